using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using LambdaStreamingHosting.Buffers;

namespace LambdaStreamingHosting.Events;

/// <summary>
/// Reads an event in one pass with a <see cref="Utf8JsonReader"/>: checks the JSON and the type of every field we model,
/// remembers where the fields are (<see cref="EventFields"/>, no strings), and tells which front end sent it.
/// </summary>
internal static class EventParser
{
    private const string ShapesUnderstood =
        "a Function URL or API Gateway HTTP API event (payload 2.0: \"version\": \"2.0\" and \"requestContext.http\"), " +
        "an API Gateway REST event (payload 1.0: \"httpMethod\" and \"requestContext\"), " +
        "or an Application Load Balancer event (\"httpMethod\" and \"requestContext.elb\")";

    private const string AString = "a string";
    private const string AnObject = "an object";
    private const string AnArray = "an array";

    /// <summary>Strings up to this many bytes are checked for UTF-8 on the stack when they hold escape sequences.</summary>
    private const int StackScratchBytes = 256;

    /// <summary>Characters that make System.Text.Json write a property name in a path as <c>['name']</c>.</summary>
    private static readonly SearchValues<char> PathSpecialCharacters = SearchValues.Create("$. '/\"[]()\t\n\r\f\b\\\u0085\u2028\u2029");

    /// <summary>Reads the event in one pass; every failure becomes an <see cref="InvalidEventException"/>.</summary>
    public static EventFields Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        var fields = default(EventFields);
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw NotAnObject(json, reader.TokenType);
            }

            ReadEvent(ref reader, json, ref fields);

            // Anything but white space after the event is invalid JSON.
            reader.Read();
        }
        catch (JsonException syntax)
        {
            throw InvalidJson(json, syntax);
        }

        return fields;
    }

    /// <summary>Whether the event is payload 2.0 (Function URL or HTTP API).</summary>
    public static bool IsPayloadV2(ReadOnlySpan<byte> json, in EventFields evt) =>
        evt.RequestContext.HasHttp && evt.HasRequestContext && evt.Version.TextEquals(json, "2.0"u8);

    /// <summary>
    /// The event's source: the shape of the event, narrowed to the pinned <paramref name="pinned"/> source when it is
    /// one of the same shape (Function URL and HTTP API share payload 2.0; REST and HTTP API share payload 1.0).
    /// </summary>
    public static LambdaEventSource Detect(ReadOnlySpan<byte> json, in EventFields evt, LambdaEventSource pinned)
    {
        var detected = DetectShape(json, evt)
            ?? throw new InvalidEventException(LambdaErrorTypes.UnknownEventShape,
                $"The event is not an HTTP event this function understands. Expected {ShapesUnderstood}; the event has the top-level fields {TopLevelFields(json)}.");
        if (pinned == LambdaEventSource.Auto || pinned == detected)
        {
            return detected;
        }

        var sameShape = IsPayloadV2(json, evt)
            ? pinned is LambdaEventSource.FunctionUrl or LambdaEventSource.HttpApi
            : evt.Version.TextEquals(json, "1.0"u8) && pinned is (LambdaEventSource.RestApi or LambdaEventSource.HttpApi);
        if (sameShape)
        {
            return pinned;
        }

        throw new InvalidEventException(LambdaErrorTypes.EventSourceMismatch,
            $"LambdaStreaming:EventSource is {pinned}, but the event is {Describe(detected, json, evt)}. Set LambdaStreaming:EventSource " +
            $"(environment variable LambdaStreaming__EventSource) to {detected} or to Auto, or check which front end invokes this function.");
    }

    private static LambdaEventSource? DetectShape(ReadOnlySpan<byte> json, in EventFields evt)
    {
        if (IsPayloadV2(json, evt))
        {
            return IsFunctionUrl(json, evt.RequestContext) ? LambdaEventSource.FunctionUrl : LambdaEventSource.HttpApi;
        }

        if (evt.HttpMethod.IsPresent && evt.HasRequestContext && evt.RequestContext.HasElb)
        {
            return LambdaEventSource.ApplicationLoadBalancer;
        }

        if (evt.HttpMethod.IsPresent && evt.HasRequestContext)
        {
            // HTTP APIs can send payload 1.0 too, marked with a version (REST events have none). They never stream.
            return evt.Version.TextEquals(json, "1.0"u8) ? LambdaEventSource.HttpApi : LambdaEventSource.RestApi;
        }

        return null;
    }

    /// <summary>
    /// Function URLs and HTTP APIs both send payload 2.0. A Function URL's domain is always <c>*.lambda-url.*</c> (it has
    /// no custom domains) and its route key and stage are <c>$default</c>. An HTTP API has an <c>*.execute-api.*</c> or a
    /// custom domain. Events with no domain or a loopback one (emulators, local tools, hand-written tests) with
    /// <c>$default</c> route and stage count as a Function URL. Pin <see cref="LambdaStreamingOptions.EventSource"/> to
    /// decide otherwise.
    /// </summary>
    private static bool IsFunctionUrl(ReadOnlySpan<byte> json, in RequestContextFields context)
    {
        Span<byte> scratch = stackalloc byte[StackScratchBytes];
        var domain = context.DomainName.IsPresent ? context.DomainName.Unescaped(json, scratch) : default;
        if (AsciiText.ContainsIgnoreCase(domain, ".lambda-url."u8))
        {
            return true;
        }

        if (context.RouteKey.IsPresent && !context.RouteKey.TextEquals(json, "$default"u8)
            || context.Stage.IsPresent && !context.Stage.TextEquals(json, "$default"u8))
        {
            return false;
        }

        var host = domain.Trim("[]"u8);
        return domain.Length == 0
            || Ascii.EqualsIgnoreCase(domain, "localhost"u8)
            || (System.Net.IPAddress.TryParse(host, out var address) && System.Net.IPAddress.IsLoopback(address));
    }

    private static string Describe(LambdaEventSource source, ReadOnlySpan<byte> json, in EventFields evt) => source switch
    {
        LambdaEventSource.FunctionUrl => "a Function URL event (payload 2.0)",
        LambdaEventSource.HttpApi => $"an API Gateway HTTP API event (payload {evt.Version.GetString(json)})",
        LambdaEventSource.RestApi => "an API Gateway REST event (payload 1.0)",
        _ => "an Application Load Balancer event",
    };

    private static void ReadEvent(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, ref EventFields evt)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("version"u8))
            {
                evt.Version = ReadString(ref reader, json, "$.version");
            }
            else if (reader.ValueTextEquals("rawPath"u8))
            {
                evt.RawPath = ReadString(ref reader, json, "$.rawPath");
            }
            else if (reader.ValueTextEquals("rawQueryString"u8))
            {
                evt.RawQueryString = ReadString(ref reader, json, "$.rawQueryString");
            }
            else if (reader.ValueTextEquals("cookies"u8))
            {
                evt.Cookies = ReadStringArray(ref reader, json, "$.cookies");
            }
            else if (reader.ValueTextEquals("headers"u8))
            {
                evt.Headers = ReadStringMap(ref reader, json, "$.headers", multiValue: false);
            }
            else if (reader.ValueTextEquals("multiValueHeaders"u8))
            {
                evt.MultiValueHeaders = ReadStringMap(ref reader, json, "$.multiValueHeaders", multiValue: true);
            }
            else if (reader.ValueTextEquals("queryStringParameters"u8))
            {
                evt.QueryStringParameters = ReadStringMap(ref reader, json, "$.queryStringParameters", multiValue: false);
            }
            else if (reader.ValueTextEquals("multiValueQueryStringParameters"u8))
            {
                evt.MultiValueQueryStringParameters = ReadStringMap(ref reader, json, "$.multiValueQueryStringParameters", multiValue: true);
            }
            else if (reader.ValueTextEquals("httpMethod"u8))
            {
                evt.HttpMethod = ReadString(ref reader, json, "$.httpMethod");
            }
            else if (reader.ValueTextEquals("path"u8))
            {
                evt.Path = ReadString(ref reader, json, "$.path");
            }
            else if (reader.ValueTextEquals("resource"u8))
            {
                ReadString(ref reader, json, "$.resource");
            }
            else if (reader.ValueTextEquals("body"u8))
            {
                evt.Body = ReadString(ref reader, json, "$.body");
            }
            else if (reader.ValueTextEquals("isBase64Encoded"u8))
            {
                reader.Read();
                evt.IsBase64Encoded = reader.TokenType switch
                {
                    JsonTokenType.True => true,
                    JsonTokenType.False => false,
                    _ => throw WrongType(json, "$.isBase64Encoded", "true or false"),
                };
            }
            else if (reader.ValueTextEquals("requestContext"u8))
            {
                evt.HasRequestContext = BeginObject(ref reader, json, "$.requestContext");
                evt.RequestContext = default;
                if (evt.HasRequestContext)
                {
                    ReadRequestContext(ref reader, json, ref evt.RequestContext);
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static void ReadRequestContext(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, ref RequestContextFields context)
    {
        const string Parent = "$.requestContext";
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("http"u8))
            {
                context.HasHttp = BeginObject(ref reader, json, Parent + ".http");
                context.HttpMethod = context.HttpPath = context.HttpProtocol = context.HttpSourceIp = default;
                if (context.HasHttp)
                {
                    ReadHttp(ref reader, json, ref context);
                }
            }
            else if (reader.ValueTextEquals("domainName"u8))
            {
                context.DomainName = ReadString(ref reader, json, Parent + ".domainName");
            }
            else if (reader.ValueTextEquals("stage"u8))
            {
                context.Stage = ReadString(ref reader, json, Parent + ".stage");
            }
            else if (reader.ValueTextEquals("routeKey"u8))
            {
                context.RouteKey = ReadString(ref reader, json, Parent + ".routeKey");
            }
            else if (reader.ValueTextEquals("path"u8))
            {
                context.Path = ReadString(ref reader, json, Parent + ".path");
            }
            else if (reader.ValueTextEquals("protocol"u8))
            {
                context.Protocol = ReadString(ref reader, json, Parent + ".protocol");
            }
            else if (reader.ValueTextEquals("requestId"u8))
            {
                ReadString(ref reader, json, Parent + ".requestId");
            }
            else if (reader.ValueTextEquals("identity"u8))
            {
                context.IdentitySourceIp = context.IdentityClientCertPem = default;
                if (BeginObject(ref reader, json, Parent + ".identity"))
                {
                    ReadIdentity(ref reader, json, ref context);
                }
            }
            else if (reader.ValueTextEquals("elb"u8))
            {
                context.HasElb = BeginObject(ref reader, json, Parent + ".elb");
                if (context.HasElb)
                {
                    ReadObject(ref reader, json, "targetGroupArn"u8, Parent + ".elb.targetGroupArn", out _);
                }
            }
            else if (reader.ValueTextEquals("authentication"u8))
            {
                context.AuthenticationClientCertPem = default;
                if (BeginObject(ref reader, json, Parent + ".authentication"))
                {
                    ReadClientCertHolder(ref reader, json, out context.AuthenticationClientCertPem);
                }
            }
            else if (reader.ValueTextEquals("authorizer"u8))
            {
                context.Authorizer = ReadAnyObject(ref reader, json, Parent + ".authorizer");
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static void ReadHttp(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, ref RequestContextFields context)
    {
        const string Parent = "$.requestContext.http";
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("method"u8))
            {
                context.HttpMethod = ReadString(ref reader, json, Parent + ".method");
            }
            else if (reader.ValueTextEquals("path"u8))
            {
                context.HttpPath = ReadString(ref reader, json, Parent + ".path");
            }
            else if (reader.ValueTextEquals("protocol"u8))
            {
                context.HttpProtocol = ReadString(ref reader, json, Parent + ".protocol");
            }
            else if (reader.ValueTextEquals("sourceIp"u8))
            {
                context.HttpSourceIp = ReadString(ref reader, json, Parent + ".sourceIp");
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static void ReadIdentity(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, ref RequestContextFields context)
    {
        const string Parent = "$.requestContext.identity";
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("sourceIp"u8))
            {
                context.IdentitySourceIp = ReadString(ref reader, json, Parent + ".sourceIp");
            }
            else if (reader.ValueTextEquals("clientCert"u8))
            {
                context.IdentityClientCertPem = default;
                if (BeginObject(ref reader, json, Parent + ".clientCert"))
                {
                    ReadObject(ref reader, json, "clientCertPem"u8, Parent + ".clientCert.clientCertPem", out context.IdentityClientCertPem);
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    /// <summary>An object whose only field we read is <c>clientCert</c> (an object with <c>clientCertPem</c>).</summary>
    private static void ReadClientCertHolder(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, out JsonSlice pem)
    {
        const string ClientCert = "$.requestContext.authentication.clientCert";
        pem = default;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("clientCert"u8))
            {
                pem = default;
                if (BeginObject(ref reader, json, ClientCert))
                {
                    ReadObject(ref reader, json, "clientCertPem"u8, ClientCert + ".clientCertPem", out pem);
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    /// <summary>An object whose only field we read is the string <paramref name="name"/> (at <paramref name="path"/>).</summary>
    private static void ReadObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, ReadOnlySpan<byte> name, string path, out JsonSlice value)
    {
        value = default;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(name))
            {
                value = ReadString(ref reader, json, path);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    /// <summary>Moves to the value of a property that must be an object or null; true when it is an object.</summary>
    private static bool BeginObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, string path)
    {
        reader.Read();
        return reader.TokenType switch
        {
            JsonTokenType.StartObject => true,
            JsonTokenType.Null => false,
            _ => throw WrongType(json, path, AnObject),
        };
    }

    /// <summary>Moves to and checks the value of a property that must be a string or null.</summary>
    private static JsonSlice ReadString(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, string path)
    {
        reader.Read();
        return CheckString(ref reader, json, new FieldPath(path));
    }

    /// <summary>Checks that the value under the reader is a string (of valid UTF-8) or null.</summary>
    private static JsonSlice CheckString(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, FieldPath path)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return default;
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            throw WrongType(json, path.Build(json), AString);
        }

        if (!IsUtf8(ref reader))
        {
            throw NotUtf8(json, path.Build(json));
        }

        return JsonSlice.OfString(ref reader);
    }

    /// <summary>Moves to and checks an array of strings (or nulls), or null.</summary>
    private static JsonSlice ReadStringArray(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, string path)
    {
        reader.Read();
        return CheckStringArray(ref reader, json, new FieldPath(path));
    }

    private static JsonSlice CheckStringArray(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, FieldPath path)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return default;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw WrongType(json, path.Build(json), AnArray);
        }

        var start = checked((int)reader.TokenStartIndex);
        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            CheckString(ref reader, json, path with { Index = count++ });
        }

        return JsonSlice.OfContainer(start, reader.BytesConsumed, count);
    }

    /// <summary>Moves to and checks an object of strings (or, <paramref name="multiValue"/>, of arrays of strings), or null.</summary>
    private static JsonSlice ReadStringMap(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, string path, bool multiValue)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
        {
            return default;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw WrongType(json, path, AnObject);
        }

        var start = checked((int)reader.TokenStartIndex);
        var count = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            count++;
            var entry = new FieldPath(path, JsonSlice.OfString(ref reader));
            if (!IsUtf8(ref reader))
            {
                throw NotUtf8(json, path);
            }

            reader.Read();
            if (multiValue)
            {
                CheckStringArray(ref reader, json, entry);
            }
            else
            {
                CheckString(ref reader, json, entry);
            }
        }

        return JsonSlice.OfContainer(start, reader.BytesConsumed, count);
    }

    /// <summary>Moves to an object of any values (kept as its bytes), or null.</summary>
    private static JsonSlice ReadAnyObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, string path)
    {
        if (!BeginObject(ref reader, json, path))
        {
            return default;
        }

        var start = checked((int)reader.TokenStartIndex);
        var count = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            count++;
            reader.Read();
            reader.Skip();
        }

        return JsonSlice.OfContainer(start, reader.BytesConsumed, count);
    }

    /// <summary>Whether the string or property name under the reader is valid UTF-8 (with escapes resolved).</summary>
    private static bool IsUtf8(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return Utf8.IsValid(reader.ValueSpan);
        }

        var length = reader.ValueSpan.Length;
        var rented = length <= StackScratchBytes ? null : ArrayPool<byte>.Shared.Rent(length);
        Span<byte> scratch = rented is null ? stackalloc byte[StackScratchBytes] : rented;
        try
        {
            // CopyString checks the UTF-8 and the escaped UTF-16 surrogates it unescapes.
            reader.CopyString(scratch);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// The JSON path of a field, spelled as System.Text.Json spells it: <see cref="Path"/>, then the entry named
    /// <see cref="Key"/> when there is one, then the array element <see cref="Index"/> when not negative. Built only
    /// for a message.
    /// </summary>
    private readonly record struct FieldPath(string Path, JsonSlice Key = default, int Index = -1)
    {
        public string Build(ReadOnlySpan<byte> json)
        {
            var path = Key.IsPresent ? Child(Path, Key.GetString(json)!) : Path;
            return Index < 0 ? path : $"{path}[{Index}]";
        }

        private static string Child(string parent, string name) =>
            name.AsSpan().IndexOfAny(PathSpecialCharacters) < 0
                ? parent + "." + name
                : parent + "['" + name + "']";
    }

    /// <summary>A field has the wrong type, unless the JSON is broken somewhere, which is reported first.</summary>
    private static InvalidEventException WrongType(ReadOnlySpan<byte> json, string path, string expected) =>
        SyntaxError(json) ?? new InvalidEventException(LambdaErrorTypes.InvalidEventField,
            $"The event field {path} has the wrong type: expected {expected}.");

    private static InvalidEventException NotUtf8(ReadOnlySpan<byte> json, string path) =>
        SyntaxError(json) ?? new InvalidEventException(LambdaErrorTypes.InvalidEventField,
            $"The event field {path} is not valid UTF-8 text.");

    private static InvalidEventException NotAnObject(ReadOnlySpan<byte> json, JsonTokenType token) =>
        SyntaxError(json) ?? new InvalidEventException(LambdaErrorTypes.UnknownEventShape, token == JsonTokenType.Null
            ? $"The event is JSON null. Expected {ShapesUnderstood}."
            : $"The event is a JSON {Kind(token)}, not an object. Expected {ShapesUnderstood}.");

    private static InvalidEventException? SyntaxError(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        try
        {
            while (reader.Read())
            {
            }

            return null;
        }
        catch (JsonException syntax)
        {
            return InvalidJson(json, syntax);
        }
    }

    private static InvalidEventException InvalidJson(ReadOnlySpan<byte> json, JsonException syntax) =>
        new(LambdaErrorTypes.InvalidEventJson, json.IsEmpty ? "The event is empty, not JSON." : $"The event is not valid JSON: {syntax.Message}", syntax);

    private static string Kind(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        _ => "null",
    };

    private static string TopLevelFields(ReadOnlySpan<byte> json)
    {
        const int MaxListed = 20;
        var names = new List<string>();
        var count = 0;
        var reader = new Utf8JsonReader(json);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (count++ < MaxListed)
            {
                names.Add("\"" + reader.GetString() + "\"");
            }

            reader.Read();
            reader.Skip();
        }

        return count switch
        {
            0 => "(none)",
            > MaxListed => string.Join(", ", names) + $" and {count - MaxListed} more",
            _ => string.Join(", ", names),
        };
    }
}
