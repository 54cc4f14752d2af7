using System.Buffers;
using System.Buffers.Text;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace LambdaStreamingHosting.Events;

/// <summary>Turns an invocation's event bytes into a <see cref="LambdaHttpRequest"/>.</summary>
internal static class EventMapper
{
    /// <summary>
    /// Detects the event's source (unless <paramref name="options"/> pins one) and maps it.
    /// </summary>
    /// <exception cref="InvalidEventException">The event is not valid JSON, has wrong field types, bad base64, or no known shape.</exception>
    public static LambdaHttpRequest Map(ReadOnlyMemory<byte> eventJson, LambdaStreamingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var evt = EventParser.Parse(eventJson);
        var source = EventParser.Detect(evt, options.EventSource, eventJson);
        if (EventParser.IsPayloadV2(evt))
        {
            return MapPayloadV2(evt, source, options);
        }

        return source == LambdaEventSource.ApplicationLoadBalancer ? MapAlb(evt) : MapPayloadV1(evt, source, options);
    }

    private static LambdaHttpRequest MapPayloadV2(HttpEvent evt, LambdaEventSource source, LambdaStreamingOptions options)
    {
        var context = evt.RequestContext;
        var method = context?.Http?.Method ?? throw EventErrors.MissingField("$.requestContext.http.method", "a payload 2.0 event");
        var rawPath = evt.RawPath ?? context.Http.Path ?? "/";
        var headers = SingleValueHeaders(evt.Headers);
        if (evt.Cookies is { Count: > 0 } cookies)
        {
            // The Cookie header is rebuilt from `cookies`; a `cookie` header, when the front end also sends one, says the same.
            headers[HeaderNames.Cookie] = string.Join("; ", cookies.Where(c => !string.IsNullOrEmpty(c)));
        }

        AddHostIfMissing(headers, context.DomainName);

        // A non-default HTTP API stage is the first segment of rawPath; a Function URL never has a path base.
        var pathBase = "";
        var path = rawPath;
        if (source == LambdaEventSource.HttpApi && context.Stage is { Length: > 0 } stage && stage != "$default"
            && rawPath.StartsWith("/" + stage, StringComparison.Ordinal)
            && (rawPath.Length == stage.Length + 1 || rawPath[stage.Length + 1] == '/'))
        {
            pathBase = "/" + stage;
            path = rawPath[pathBase.Length..];
        }

        var query = string.IsNullOrEmpty(evt.RawQueryString) ? "" : "?" + evt.RawQueryString;
        return Build(evt, source, ResponseShape.PayloadV2, method, pathBase, path, rawPath + query, query, headers,
            context.Http.Protocol, context.Http.SourceIp, options, context.Authentication?.ClientCert?.ClientCertPem);
    }

    /// <summary>API Gateway REST, or an HTTP API sending payload 1.0: answered the REST way.</summary>
    private static LambdaHttpRequest MapPayloadV1(HttpEvent evt, LambdaEventSource source, LambdaStreamingOptions options)
    {
        var context = evt.RequestContext!;
        var method = evt.HttpMethod!; // detection requires it
        var path = string.IsNullOrEmpty(evt.Path) ? "/" : evt.Path;
        var fullPath = string.IsNullOrEmpty(context.Path) ? path : context.Path;
        var pathBase = RestPathBase(fullPath, path, context.Stage);
        var headers = evt.MultiValueHeaders is { Count: > 0 } ? MultiValueHeaders(evt.MultiValueHeaders) : SingleValueHeaders(evt.Headers);
        AddHostIfMissing(headers, context.DomainName);
        var query = QueryString(evt, encode: true);
        return Build(evt, source, ResponseShape.RestApi, method, pathBase, path, pathBase + path + query, query,
            headers, context.Protocol, context.Identity?.SourceIp, options, context.Identity?.ClientCert?.ClientCertPem);
    }

    private static LambdaHttpRequest MapAlb(HttpEvent evt)
    {
        var method = evt.HttpMethod!; // detection requires it
        var path = string.IsNullOrEmpty(evt.Path) ? "/" : evt.Path;
        var multiValue = evt.MultiValueHeaders is not null;
        var headers = multiValue ? MultiValueHeaders(evt.MultiValueHeaders) : SingleValueHeaders(evt.Headers);

        // ALB passes query values as the client sent them (not decoded): they go back into the query string verbatim.
        var query = QueryString(evt, encode: false);

        // The load balancer appends the address it saw to X-Forwarded-For.
        var forwardedFor = headers["X-Forwarded-For"].ToString();
        var sourceIp = forwardedFor.Length == 0 ? null : forwardedFor[(forwardedFor.LastIndexOf(',') + 1)..].Trim();
        var shape = multiValue ? ResponseShape.AlbMultiValue : ResponseShape.AlbSingleValue;
        return Build(evt, LambdaEventSource.ApplicationLoadBalancer, shape, method, "", path, path + query, query, headers,
            protocol: null, sourceIp, options: null, clientCertPem: null);
    }

    private static LambdaHttpRequest Build(HttpEvent evt, LambdaEventSource source, ResponseShape shape, string method, string rawPathBase,
        string rawPath, string rawTarget, string query, HeaderDictionary headers, string? protocol, string? sourceIp,
        LambdaStreamingOptions? options, string? clientCertPem)
    {
        var scheme = FirstToken(headers["X-Forwarded-Proto"]).ToLowerInvariant() is "http" ? "http" : "https";
        var localPort = int.TryParse(FirstToken(headers["X-Forwarded-Port"]), out var port) && port is > 0 and <= 65535
            ? port
            : scheme == "http" ? 80 : 443;
        return new LambdaHttpRequest
        {
            Source = source,
            ResponseShape = shape,
            Method = method.ToUpperInvariant(),
            PathBase = rawPathBase.Length == 0 ? "" : RequestPath.Decode(rawPathBase),
            Path = RequestPath.Decode(rawPath),
            RawTarget = rawTarget,
            QueryString = query,
            Headers = headers,
            Scheme = scheme,
            Protocol = NormalizeProtocol(protocol),
            RemoteIpAddress = IPAddress.TryParse(sourceIp, out var address) ? address : null,
            LocalPort = localPort,
            Body = DecodeBody(evt),
            User = options is { MapIdentityToUser: true } ? IdentityMapper.MapUser(evt.RequestContext?.Authorizer, source) : null,
            ClientCertificate = IdentityMapper.MapClientCertificate(clientCertPem),
        };
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

    private static HeaderDictionary SingleValueHeaders(Dictionary<string, string?>? source)
    {
        var headers = new HeaderDictionary();
        if (source is not null)
        {
            foreach (var (name, value) in source)
            {
                if (value is not null && name.Length > 0)
                {
                    headers.Append(name, value);
                }
            }
        }

        return headers;
    }

    private static HeaderDictionary MultiValueHeaders(Dictionary<string, List<string?>?>? source)
    {
        var headers = new HeaderDictionary();
        if (source is not null)
        {
            foreach (var (name, values) in source)
            {
                if (values is { Count: > 0 } && name.Length > 0)
                {
                    headers.Append(name, new StringValues([.. values.Where(v => v is not null)]));
                }
            }
        }

        return headers;
    }

    private static void AddHostIfMissing(HeaderDictionary headers, string? domainName)
    {
        if (!headers.ContainsKey("Host") && !string.IsNullOrEmpty(domainName))
        {
            headers[HeaderNames.Host] = domainName;
        }
    }

    /// <summary>REST and ALB have no raw query string: it is rebuilt from the (multi-value) parameters.</summary>
    private static string QueryString(HttpEvent evt, bool encode)
    {
        var builder = new StringBuilder();
        if (evt.MultiValueQueryStringParameters is { Count: > 0 } multi)
        {
            foreach (var (name, values) in multi)
            {
                foreach (var value in values ?? [])
                {
                    AppendParameter(builder, name, value, encode);
                }
            }
        }
        else if (evt.QueryStringParameters is { Count: > 0 } single)
        {
            foreach (var (name, value) in single)
            {
                AppendParameter(builder, name, value, encode);
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

    private static string FirstToken(StringValues values)
    {
        var value = values.ToString();
        var comma = value.IndexOf(',', StringComparison.Ordinal);
        return (comma < 0 ? value : value[..comma]).Trim();
    }

    private static string NormalizeProtocol(string? protocol) => protocol?.ToUpperInvariant() switch
    {
        "HTTP/1.0" => HttpProtocol.Http10,
        "HTTP/2" or "HTTP/2.0" => HttpProtocol.Http2,
        "HTTP/3" or "HTTP/3.0" => HttpProtocol.Http3,
        _ => HttpProtocol.Http11,
    };

    private static ReadOnlyMemory<byte> DecodeBody(HttpEvent evt)
    {
        if (!evt.IsBase64Encoded || evt.Body.IsEmpty)
        {
            return evt.Body;
        }

        // The converter gave us our own array: decode in place, no second copy.
        var bytes = MemoryMarshal.AsMemory(evt.Body);
        var status = Base64.DecodeFromUtf8InPlace(bytes.Span, out var written);
        return status == OperationStatus.Done
            ? bytes[..written]
            : throw new InvalidEventException(EventErrors.InvalidBase64,
                $"The event's body is marked \"isBase64Encoded\": true but is not valid base64 ({evt.Body.Length} characters). Check what sends the event: the body must be standard base64 with padding.");
    }
}
