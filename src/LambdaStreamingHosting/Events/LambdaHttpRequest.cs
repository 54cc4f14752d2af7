using System.Net;
using System.Security.Claims;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace LambdaStreamingHosting.Events;

/// <summary>
/// The HTTP request an invocation's event describes, independent of the front end it came from. Filled by
/// <see cref="EventMapper"/>; the server's request features read it, and write into it what the app sets (its one
/// place during the invocation, as Kestrel's <c>HttpProtocol</c> holds the parsed request and the values middleware
/// sets alike). An invocation loop reuses one for every invocation (as a Kestrel connection reuses its request
/// headers): <see cref="Release"/> forgets the invocation, and <see cref="Headers"/> is the same dictionary each time,
/// emptied, so it keeps its capacity.
/// </summary>
internal sealed class LambdaHttpRequest
{
    private readonly Dictionary<string, StringValues> _headers;
    private string _rawTargetPath = "";
    private string _rawTargetQuery = "";
    private string? _rawTarget;

    public LambdaHttpRequest() => Headers = new HeaderDictionary(_headers = new(StringComparer.OrdinalIgnoreCase));

    /// <summary>The front end the event came from (never <see cref="LambdaEventSource.Auto"/>).</summary>
    public LambdaEventSource Source { get; set; }

    /// <summary>How the answer must be shaped for this front end.</summary>
    public ResponseShape ResponseShape { get; set; }

    /// <summary>Upper-case HTTP method.</summary>
    public string Method { get; set; } = "";

    /// <summary>Unescaped path base (REST stage or base path, non-default HTTP API stage), "" when none.</summary>
    public string PathBase { get; set; } = "";

    /// <summary>Path after <see cref="PathBase"/>, unescaped as Kestrel does (<c>%2F</c> stays escaped).</summary>
    public string Path { get; set; } = "";

    /// <summary>
    /// The path and query as received, for <c>IHttpRequestFeature.RawTarget</c>: joined on first use (apps rarely
    /// read it), from the parts <see cref="SetRawTarget"/> was given. Setting it (as the app may through the feature)
    /// replaces both parts.
    /// </summary>
    public string RawTarget
    {
        get => _rawTarget ??= string.Concat(_rawTargetPath, _rawTargetQuery);
        set => (_rawTargetPath, _rawTargetQuery, _rawTarget) = (value, "", value);
    }

    /// <summary>The two parts <see cref="RawTarget"/> is joined from (the query with its <c>?</c>), without joining them.</summary>
    public (string Path, string Query) RawTargetParts => (_rawTargetPath, _rawTargetQuery);

    /// <summary>Query string with its leading <c>?</c>, still encoded; "" when none.</summary>
    public string QueryString { get; set; } = "";

    /// <summary>Request headers, including a <c>Cookie</c> header rebuilt from <c>cookies</c> and <c>Host</c>.</summary>
    public HeaderDictionary Headers { get; }

    /// <summary><c>https</c> or <c>http</c>, from <c>x-forwarded-proto</c>.</summary>
    public string Scheme { get; set; } = "https";

    /// <summary>Protocol, e.g. <c>HTTP/1.1</c>.</summary>
    public string Protocol { get; set; } = "HTTP/1.1";

    /// <summary>Caller's address, when the event says it.</summary>
    public IPAddress? RemoteIpAddress { get; set; }

    /// <summary>
    /// The caller's port: always 0, since no front end's event carries it (<c>X-Forwarded-Port</c> is the port the
    /// client connected to, <see cref="LocalPort"/>).
    /// </summary>
    public int RemotePort { get; set; }

    /// <summary>The port the client connected to, from <c>X-Forwarded-Port</c> (else 443, or 80 for http).</summary>
    public int LocalPort { get; set; }

    /// <summary>
    /// The decoded request body; empty when none. A text body without escapes is a slice of the event bytes (valid for
    /// the invocation), any other is its own array.
    /// </summary>
    public ReadOnlyMemory<byte> Body { get; set; }

    /// <summary>The caller's identity, when <see cref="LambdaStreamingOptions.MapIdentityToUser"/> is on and the event has one.</summary>
    public ClaimsPrincipal? User { get; set; }

    /// <summary>REST API mutual-TLS client certificate, when present.</summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>Sets <see cref="RawTarget"/> to <paramref name="rawPath"/> followed by <paramref name="query"/> (joined when read).</summary>
    public void SetRawTarget(string rawPath, string query)
    {
        _rawTargetPath = rawPath;
        _rawTargetQuery = query;
        _rawTarget = null;
    }

    /// <summary>The emptied, writable <see cref="Headers"/>, with room for <paramref name="capacity"/> headers.</summary>
    public HeaderDictionary EmptyHeaders(int capacity)
    {
        Headers.IsReadOnly = false;
        _headers.Clear();
        _headers.EnsureCapacity(capacity);
        return Headers;
    }

    /// <summary>The invocation is over: nothing of the request (headers, body, identity) stays referenced.</summary>
    public void Release()
    {
        EmptyHeaders(0);
        Source = LambdaEventSource.Auto;
        ResponseShape = default;
        Method = PathBase = Path = QueryString = "";
        SetRawTarget("", "");
        Scheme = "https";
        Protocol = "HTTP/1.1";
        RemoteIpAddress = null;
        RemotePort = LocalPort = 0;
        Body = default;
        User = null;
        ClientCertificate = null;
    }
}
