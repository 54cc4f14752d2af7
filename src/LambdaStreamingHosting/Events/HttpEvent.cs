using System.Text.Json;
using System.Text.Json.Serialization;

namespace LambdaStreamingHosting.Events;

/// <summary>
/// The fields of every HTTP event shape we understand (payload 2.0, REST payload 1.0, ALB), read in one pass by the
/// source-generated <see cref="HttpEventJsonContext"/>. Which fields are present tells the shape apart; fields we do not
/// use are not modelled, so their types cannot fail an invocation.
/// </summary>
internal sealed class HttpEvent
{
    /// <summary><c>"2.0"</c> for payload 2.0; <c>"1.0"</c> or absent otherwise.</summary>
    public string? Version { get; set; }

    /// <summary>Payload 2.0: the path as the front end passes it.</summary>
    public string? RawPath { get; set; }

    /// <summary>Payload 2.0: the query string without <c>?</c>, still encoded.</summary>
    public string? RawQueryString { get; set; }

    /// <summary>Payload 2.0: one <c>name=value</c> per request cookie.</summary>
    public List<string?>? Cookies { get; set; }

    /// <summary>REST and ALB: the method.</summary>
    public string? HttpMethod { get; set; }

    /// <summary>REST: the path without stage or base path. ALB: the path as sent.</summary>
    public string? Path { get; set; }

    /// <summary>REST: the matched resource, e.g. <c>/{proxy+}</c>.</summary>
    public string? Resource { get; set; }

    /// <summary>Single-value headers (payload 2.0: repeated headers joined with commas).</summary>
    public Dictionary<string, string?>? Headers { get; set; }

    /// <summary>REST and multi-value ALB: every value of every header.</summary>
    public Dictionary<string, List<string?>?>? MultiValueHeaders { get; set; }

    /// <summary>Query parameters (REST: decoded; ALB: as sent).</summary>
    public Dictionary<string, string?>? QueryStringParameters { get; set; }

    /// <summary>REST and multi-value ALB: every value of every query parameter.</summary>
    public Dictionary<string, List<string?>?>? MultiValueQueryStringParameters { get; set; }

    /// <summary>The body as UTF-8 bytes of the JSON string, still base64 when <see cref="IsBase64Encoded"/>.</summary>
    [JsonConverter(typeof(Utf8StringBytesConverter))]
    public ReadOnlyMemory<byte> Body { get; set; }

    /// <summary>Whether <see cref="Body"/> is base64.</summary>
    public bool IsBase64Encoded { get; set; }

    /// <summary>The front end's request context.</summary>
    public HttpEventRequestContext? RequestContext { get; set; }
}

/// <summary><c>requestContext</c> of every shape.</summary>
internal sealed class HttpEventRequestContext
{
    /// <summary>REST: the path with stage or base path.</summary>
    public string? Path { get; set; }

    /// <summary>REST and HTTP API: the stage name.</summary>
    public string? Stage { get; set; }

    /// <summary>The front end's request id.</summary>
    public string? RequestId { get; set; }

    /// <summary>The host name the caller used.</summary>
    public string? DomainName { get; set; }

    /// <summary>Payload 2.0: <c>$default</c> or the matched route.</summary>
    public string? RouteKey { get; set; }

    /// <summary>REST: the protocol, e.g. <c>HTTP/1.1</c>.</summary>
    public string? Protocol { get; set; }

    /// <summary>REST: the caller.</summary>
    public HttpEventIdentity? Identity { get; set; }

    /// <summary>Payload 2.0: method, path, protocol, source IP.</summary>
    public HttpEventHttp? Http { get; set; }

    /// <summary>ALB: present for every ALB event.</summary>
    public HttpEventElb? Elb { get; set; }

    /// <summary>Payload 2.0 with mutual TLS.</summary>
    public HttpEventAuthentication? Authentication { get; set; }

    /// <summary>REST: <c>claims</c> or a Lambda authorizer's context; HTTP API: <c>jwt</c>, <c>iam</c> or <c>lambda</c>.</summary>
    public Dictionary<string, JsonElement>? Authorizer { get; set; }
}

/// <summary>REST <c>requestContext.identity</c>.</summary>
internal sealed class HttpEventIdentity
{
    /// <summary>The caller's address.</summary>
    public string? SourceIp { get; set; }

    /// <summary>The mutual-TLS client certificate, when the API uses mutual TLS.</summary>
    public HttpEventClientCert? ClientCert { get; set; }
}

/// <summary>Payload 2.0 <c>requestContext.authentication</c>.</summary>
internal sealed class HttpEventAuthentication
{
    /// <summary>The mutual-TLS client certificate.</summary>
    public HttpEventClientCert? ClientCert { get; set; }
}

/// <summary>A mutual-TLS client certificate.</summary>
internal sealed class HttpEventClientCert
{
    /// <summary>The certificate in PEM.</summary>
    public string? ClientCertPem { get; set; }
}

/// <summary>Payload 2.0 <c>requestContext.http</c>.</summary>
internal sealed class HttpEventHttp
{
    /// <summary>The method.</summary>
    public string? Method { get; set; }

    /// <summary>The path (same as <c>rawPath</c>).</summary>
    public string? Path { get; set; }

    /// <summary>The protocol, e.g. <c>HTTP/1.1</c>.</summary>
    public string? Protocol { get; set; }

    /// <summary>The caller's address.</summary>
    public string? SourceIp { get; set; }
}

/// <summary>ALB <c>requestContext.elb</c>.</summary>
internal sealed class HttpEventElb
{
    /// <summary>The target group that routed the request.</summary>
    public string? TargetGroupArn { get; set; }
}

/// <summary>Reflection-free (trimming- and AOT-safe) JSON metadata for <see cref="HttpEvent"/>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(HttpEvent))]
internal sealed partial class HttpEventJsonContext : JsonSerializerContext;

/// <summary>
/// Reads a JSON string as its unescaped UTF-8 bytes into one array, so a body is never materialised as a .NET string
/// (a base64 body is later decoded in place, in the same array).
/// </summary>
internal sealed class Utf8StringBytesConverter : JsonConverter<ReadOnlyMemory<byte>>
{
    public override bool HandleNull => true;

    public override ReadOnlyMemory<byte> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException("The JSON value could not be converted to System.String.");
        }

        var length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        if (length == 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        // Unescaping only shortens, so the escaped length is enough.
        var bytes = new byte[length];
        var written = reader.CopyString(bytes);
        return bytes.AsMemory(0, written);
    }

    public override void Write(Utf8JsonWriter writer, ReadOnlyMemory<byte> value, JsonSerializerOptions options) =>
        throw new NotSupportedException("Events are only read.");
}
