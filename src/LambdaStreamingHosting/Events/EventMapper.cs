using System.Buffers;
using System.Buffers.Text;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace LambdaStreamingHosting.Events;

/// <summary>
/// Turns an invocation's event bytes into a <see cref="LambdaHttpRequest"/>: <see cref="EventParser"/> finds the fields,
/// then only the values the request needs become strings, read from the event bytes (headers straight into the
/// request's <see cref="HeaderDictionary"/>). The request's body may point into the event bytes.
/// </summary>
internal static class EventMapper
{
    /// <summary>Strings up to this many characters are assembled on the stack.</summary>
    private const int StackChars = 256;

    private static readonly string[] Methods =
    [
        HttpMethods.Get, HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete, HttpMethods.Patch, HttpMethods.Head,
        HttpMethods.Options, HttpMethods.Trace, HttpMethods.Connect,
    ];

    /// <summary>
    /// Detects the event's source (unless <paramref name="options"/> pins one) and maps it.
    /// </summary>
    /// <exception cref="InvalidEventException">The event is not valid JSON, has wrong field types, bad base64, or no known shape.</exception>
    public static LambdaHttpRequest Map(ReadOnlyMemory<byte> eventJson, LambdaStreamingOptions options) =>
        Map(eventJson, options, new LambdaHttpRequest());

    /// <summary>
    /// Detects the event's source (unless <paramref name="options"/> pins one) and maps it into <paramref name="request"/>
    /// (an invocation loop's, reused), every field of it set, its headers emptied first.
    /// </summary>
    /// <exception cref="InvalidEventException">The event is not valid JSON, has wrong field types, bad base64, or no known shape.</exception>
    public static LambdaHttpRequest Map(ReadOnlyMemory<byte> eventJson, LambdaStreamingOptions options, LambdaHttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(request);
        var json = eventJson.Span;
        var evt = EventParser.Parse(json);
        var source = EventParser.Detect(json, evt, options.EventSource);
        if (EventParser.IsPayloadV2(json, evt))
        {
            return MapPayloadV2(eventJson, evt, source, options, request);
        }

        return source == LambdaEventSource.ApplicationLoadBalancer
            ? MapAlb(eventJson, evt, request)
            : MapPayloadV1(eventJson, evt, source, options, request);
    }

    private static LambdaHttpRequest MapPayloadV2(ReadOnlyMemory<byte> eventJson, in EventFields evt, LambdaEventSource source, LambdaStreamingOptions options, LambdaHttpRequest request)
    {
        var json = eventJson.Span;
        ref readonly var context = ref evt.RequestContext;
        if (!context.HttpMethod.IsPresent)
        {
            throw InvalidEventException.MissingField("$.requestContext.http.method", "a payload 2.0 event");
        }

        var rawPath = (evt.RawPath.IsPresent ? evt.RawPath : context.HttpPath).GetString(json) ?? "/";

        // The Cookie header is rebuilt from `cookies`; a `cookie` header, when the front end also sends one, says the same.
        var cookie = evt.Cookies.Count > 0 ? JoinCookies(json, evt.Cookies) : null;
        var headers = RequestHeaders.Read(json, evt.Headers, multiValue: false, request.EmptyHeaders(evt.Headers.Count + 2), cookie);
        if (cookie is not null)
        {
            headers[HeaderNames.Cookie] = cookie;
        }

        AddHostIfMissing(json, headers, context.DomainName);

        // A non-default HTTP API stage is the first segment of rawPath; a Function URL never has a path base.
        var pathBase = "";
        var path = rawPath;
        if (source == LambdaEventSource.HttpApi && context.Stage.IsPresent && context.Stage.Length > 0
            && !context.Stage.TextEquals(json, "$default"u8) && context.Stage.GetString(json) is { } stage
            && rawPath.StartsWith("/" + stage, StringComparison.Ordinal)
            && (rawPath.Length == stage.Length + 1 || rawPath[stage.Length + 1] == '/'))
        {
            pathBase = "/" + stage;
            path = rawPath[pathBase.Length..];
        }

        var query = evt.RawQueryString.Length > 0 ? Prefixed('?', json, evt.RawQueryString) : "";
        return Build(eventJson, evt, source, ResponseShape.PayloadV2, context.HttpMethod, pathBase, path, rawPath, query,
            context.HttpProtocol, context.HttpSourceIp, options, context.AuthenticationClientCertPem, request);
    }

    /// <summary>API Gateway REST, or an HTTP API sending payload 1.0: answered the REST way.</summary>
    private static LambdaHttpRequest MapPayloadV1(ReadOnlyMemory<byte> eventJson, in EventFields evt, LambdaEventSource source, LambdaStreamingOptions options, LambdaHttpRequest request)
    {
        var json = eventJson.Span;
        ref readonly var context = ref evt.RequestContext;
        var path = evt.Path.GetString(json) is { Length: > 0 } eventPath ? eventPath : "/";
        var fullPath = context.Path.GetString(json) is { Length: > 0 } contextPath ? contextPath : path;
        var pathBase = RestPathBase(fullPath, path, context.Stage.GetString(json));
        var headers = evt.MultiValueHeaders.Count > 0
            ? RequestHeaders.Read(json, evt.MultiValueHeaders, multiValue: true, request.EmptyHeaders(evt.MultiValueHeaders.Count + 1))
            : RequestHeaders.Read(json, evt.Headers, multiValue: false, request.EmptyHeaders(evt.Headers.Count + 1));
        AddHostIfMissing(json, headers, context.DomainName);
        var query = QueryString(json, evt, encode: true);
        return Build(eventJson, evt, source, ResponseShape.RestApi, evt.HttpMethod, pathBase, path, pathBase + path, query,
            context.Protocol, context.IdentitySourceIp, options, context.IdentityClientCertPem, request);
    }

    private static LambdaHttpRequest MapAlb(ReadOnlyMemory<byte> eventJson, in EventFields evt, LambdaHttpRequest request)
    {
        var json = eventJson.Span;
        var path = evt.Path.GetString(json) is { Length: > 0 } eventPath ? eventPath : "/";
        var multiValue = evt.MultiValueHeaders.IsPresent;
        var eventHeaders = multiValue ? evt.MultiValueHeaders : evt.Headers;
        var headers = RequestHeaders.Read(json, eventHeaders, multiValue, request.EmptyHeaders(eventHeaders.Count));

        // ALB passes query values as the client sent them (not decoded): they go back into the query string verbatim.
        var query = QueryString(json, evt, encode: false);

        // The load balancer appends the address it saw to X-Forwarded-For.
        var forwardedFor = headers["X-Forwarded-For"].ToString();
        var sourceIp = forwardedFor.AsSpan(forwardedFor.LastIndexOf(',') + 1).Trim();
        var shape = multiValue ? ResponseShape.AlbMultiValue : ResponseShape.AlbSingleValue;
        return Build(eventJson, evt, LambdaEventSource.ApplicationLoadBalancer, shape, evt.HttpMethod, "", path, path, query,
            protocol: default, sourceIp: default, options: null, clientCertPem: default, request,
            remoteIpAddress: IPAddress.TryParse(sourceIp, out var address) ? address : null);
    }

    private static LambdaHttpRequest Build(ReadOnlyMemory<byte> eventJson, in EventFields evt, LambdaEventSource source, ResponseShape shape,
        JsonSlice method, string rawPathBase, string rawPath, string rawTargetPath, string query, JsonSlice protocol,
        JsonSlice sourceIp, LambdaStreamingOptions? options, JsonSlice clientCertPem, LambdaHttpRequest request, IPAddress? remoteIpAddress = null)
    {
        var json = eventJson.Span;
        var headers = request.Headers;
        var scheme = Ascii.EqualsIgnoreCase(FirstToken(headers["X-Forwarded-Proto"]), "http") ? "http" : "https";
        var localPort = int.TryParse(FirstToken(headers["X-Forwarded-Port"]), out var port) && port is > 0 and <= 65535
            ? port
            : scheme == "http" ? 80 : 443;
        Span<byte> scratch = stackalloc byte[64];
        request.Source = source;
        request.ResponseShape = shape;
        request.Method = CanonicalMethod(json, method);
        request.PathBase = rawPathBase.Length == 0 ? "" : RequestPath.Decode(rawPathBase);
        request.Path = RequestPath.Decode(rawPath);
        request.SetRawTarget(rawTargetPath, query);
        request.QueryString = query;
        request.Scheme = scheme;
        request.Protocol = NormalizeProtocol(protocol.IsPresent ? protocol.Unescaped(json, scratch) : default);
        request.RemoteIpAddress = remoteIpAddress
            ?? (sourceIp.IsPresent && IPAddress.TryParse(sourceIp.Unescaped(json, scratch), out var address) ? address : null);
        request.RemotePort = 0;
        request.LocalPort = localPort;
        request.Body = DecodeBody(eventJson, evt);
        request.User = options is { MapIdentityToUser: true } && evt.RequestContext.Authorizer.IsPresent
            ? IdentityMapper.MapUser(eventJson.Slice(evt.RequestContext.Authorizer.Start, evt.RequestContext.Authorizer.Length), source)
            : null;
        request.ClientCertificate = IdentityMapper.MapClientCertificate(clientCertPem.GetString(json));
        return request;
    }

    /// <summary>The upper-case method: one of the <see cref="HttpMethods"/> constants for the common ones.</summary>
    private static string CanonicalMethod(ReadOnlySpan<byte> json, JsonSlice method)
    {
        Span<byte> scratch = stackalloc byte[16];
        var utf8 = method.Unescaped(json, scratch);
        foreach (var known in Methods)
        {
            if (Ascii.EqualsIgnoreCase(utf8, known))
            {
                return known;
            }
        }

        return method.GetString(json)!.ToUpperInvariant();
    }

    /// <summary>REST: <c>requestContext.path</c> (with stage or base path) minus <c>path</c>.</summary>
    private static string RestPathBase(string fullPath, string path, string? stage)
    {
        if (fullPath.Length > path.Length && fullPath.EndsWith(path, StringComparison.Ordinal))
        {
            return fullPath[..^path.Length].TrimEnd('/');
        }

        // The two can differ in encoding; the stage is then the only base we can be sure of.
        var stagePath = "/" + stage;
        if (!string.IsNullOrEmpty(stage) && !path.StartsWith(stagePath + "/", StringComparison.Ordinal)
            && (fullPath == stagePath || fullPath.StartsWith(stagePath + "/", StringComparison.Ordinal)))
        {
            return stagePath;
        }

        return "";
    }

    private static void AddHostIfMissing(ReadOnlySpan<byte> json, HeaderDictionary headers, JsonSlice domainName)
    {
        if (domainName.Length > 0 && !headers.ContainsKey(HeaderNames.Host))
        {
            headers[HeaderNames.Host] = domainName.GetString(json);
        }
    }

    /// <summary>The <c>Cookie</c> header: the non-empty entries of <c>cookies</c> joined with <c>"; "</c>, as one new string.</summary>
    private static string JoinCookies(ReadOnlySpan<byte> json, JsonSlice cookies)
    {
        var reader = cookies.ReaderOnContainer(json);
        reader.Read();

        // An entry unescapes to at most as many characters as it has bytes.
        var capacity = 0;
        var ahead = reader;
        while (ahead.Read() && ahead.TokenType != JsonTokenType.EndArray)
        {
            capacity += ahead.TokenType == JsonTokenType.String ? ahead.ValueSpan.Length + 2 : 0;
        }

        char[]? rented = null;
        Span<char> chars = capacity <= StackChars ? stackalloc char[StackChars] : (rented = ArrayPool<char>.Shared.Rent(capacity));
        var length = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String || reader.ValueSpan.IsEmpty)
            {
                continue;
            }

            if (length > 0)
            {
                chars[length++] = ';';
                chars[length++] = ' ';
            }

            length += reader.CopyString(chars[length..]);
        }

        var result = new string(chars[..length]);
        if (rented is not null)
        {
            ArrayPool<char>.Shared.Return(rented);
        }

        return result;
    }

    /// <summary><paramref name="prefix"/> followed by a string value, as one new string.</summary>
    private static string Prefixed(char prefix, ReadOnlySpan<byte> json, JsonSlice value)
    {
        if (value.IsEscaped)
        {
            return prefix + value.GetString(json);
        }

        var utf8 = value.Raw(json);
        var length = Encoding.UTF8.GetCharCount(utf8) + 1;
        char[]? rented = null;
        Span<char> chars = length <= StackChars ? stackalloc char[StackChars] : (rented = ArrayPool<char>.Shared.Rent(length));
        chars[0] = prefix;
        Encoding.UTF8.GetChars(utf8, chars[1..]);
        var result = new string(chars[..length]);
        if (rented is not null)
        {
            ArrayPool<char>.Shared.Return(rented);
        }

        return result;
    }

    /// <summary>REST and ALB have no raw query string: it is rebuilt from the (multi-value) parameters.</summary>
    private static string QueryString(ReadOnlySpan<byte> json, in EventFields evt, bool encode)
    {
        var multiValue = evt.MultiValueQueryStringParameters.Count > 0;
        var parameters = multiValue ? evt.MultiValueQueryStringParameters : evt.QueryStringParameters;
        if (parameters.Count == 0)
        {
            return "";
        }

        // Read as a dictionary so that a name the event repeats keeps its first place and its last value. The slices
        // are positions in the parameters' own bytes.
        var byName = new Dictionary<string, JsonSlice>(parameters.Count, StringComparer.Ordinal);
        var reader = parameters.ReaderOnContainer(json);
        json = json.Slice(parameters.Start, parameters.Length);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            var start = checked((int)reader.TokenStartIndex);
            reader.Skip();
            byName[name] = reader.TokenType == JsonTokenType.Null
                ? default
                : reader.TokenType == JsonTokenType.String
                    ? JsonSlice.OfString(ref reader)
                    : JsonSlice.OfContainer(start, reader.BytesConsumed, count: 1);
        }

        var builder = new StringBuilder();
        foreach (var (name, value) in byName)
        {
            if (!multiValue)
            {
                AppendParameter(builder, name, value.GetString(json), encode);
                continue;
            }

            if (!value.IsPresent)
            {
                continue;
            }

            var values = value.ReaderOnContainer(json);
            values.Read();
            while (values.Read() && values.TokenType != JsonTokenType.EndArray)
            {
                AppendParameter(builder, name, values.GetString(), encode);
            }
        }

        return builder.ToString();
    }

    private static void AppendParameter(StringBuilder builder, string name, string? value, bool encode)
    {
        builder.Append(builder.Length == 0 ? '?' : '&').Append(encode ? Uri.EscapeDataString(name) : name);
        if (value is not null)
        {
            builder.Append('=').Append(encode ? Uri.EscapeDataString(value) : value);
        }
    }

    /// <summary>What a header's value says first: up to the first comma of its first non-empty value, trimmed.</summary>
    private static ReadOnlySpan<char> FirstToken(StringValues values)
    {
        foreach (var value in values)
        {
            if (!string.IsNullOrEmpty(value))
            {
                var comma = value.IndexOf(',', StringComparison.Ordinal);
                return (comma < 0 ? value.AsSpan() : value.AsSpan(0, comma)).Trim();
            }
        }

        return default;
    }

    private static string NormalizeProtocol(ReadOnlySpan<byte> protocol) =>
        Ascii.EqualsIgnoreCase(protocol, "HTTP/1.0"u8) ? HttpProtocol.Http10
        : Ascii.EqualsIgnoreCase(protocol, "HTTP/2"u8) || Ascii.EqualsIgnoreCase(protocol, "HTTP/2.0"u8) ? HttpProtocol.Http2
        : Ascii.EqualsIgnoreCase(protocol, "HTTP/3"u8) || Ascii.EqualsIgnoreCase(protocol, "HTTP/3.0"u8) ? HttpProtocol.Http3
        : HttpProtocol.Http11;

    /// <summary>
    /// The request body: the event's own bytes for text without escapes, else the unescaped or base64-decoded bytes in
    /// one new array.
    /// </summary>
    private static ReadOnlyMemory<byte> DecodeBody(ReadOnlyMemory<byte> eventJson, in EventFields evt)
    {
        var body = evt.Body;
        if (body.Length == 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        if (!evt.IsBase64Encoded)
        {
            if (!body.IsEscaped)
            {
                return eventJson.Slice(body.Start, body.Length);
            }

            var text = new byte[body.Length];
            return text.AsMemory(0, body.Unescaped(eventJson.Span, text).Length);
        }

        // Unescaping only shortens, and base64 needs no escapes (a JSON writer may still escape '/' as "\/").
        byte[] bytes;
        int written;
        OperationStatus status;
        int characters;
        if (body.IsEscaped)
        {
            bytes = new byte[body.Length];
            characters = body.Unescaped(eventJson.Span, bytes).Length;
            status = Base64.DecodeFromUtf8InPlace(bytes.AsSpan(0, characters), out written);
        }
        else
        {
            characters = body.Length;
            bytes = new byte[Base64.GetMaxDecodedFromUtf8Length(characters)];
            status = Base64.DecodeFromUtf8(body.Raw(eventJson.Span), bytes, out _, out written);
        }

        return status == OperationStatus.Done
            ? bytes.AsMemory(0, written)
            : throw new InvalidEventException(LambdaErrorTypes.InvalidEventBase64,
                $"The event's body is marked \"isBase64Encoded\": true but is not valid base64 ({characters} characters). Check what sends the event: the body must be standard base64 with padding.");
    }
}
