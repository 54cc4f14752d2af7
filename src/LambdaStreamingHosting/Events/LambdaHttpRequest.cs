using System.Net;
using System.Security.Claims;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Events;

/// <summary>
/// The HTTP request an invocation's event describes, independent of the front end it came from. Produced by
/// <see cref="EventMapper"/>; the server turns it into request features.
/// </summary>
internal sealed class LambdaHttpRequest
{
    /// <summary>The front end the event came from (never <see cref="LambdaEventSource.Auto"/>).</summary>
    public required LambdaEventSource Source { get; init; }

    /// <summary>How the answer must be shaped for this front end.</summary>
    public required ResponseShape ResponseShape { get; init; }

    /// <summary>Upper-case HTTP method.</summary>
    public required string Method { get; init; }

    /// <summary>Unescaped path base (REST stage or base path, non-default HTTP API stage), "" when none.</summary>
    public string PathBase { get; init; } = "";

    /// <summary>Path after <see cref="PathBase"/>, unescaped as Kestrel does (<c>%2F</c> stays escaped).</summary>
    public required string Path { get; init; }

    /// <summary>The path and query as received, for <c>IHttpRequestFeature.RawTarget</c>.</summary>
    public required string RawTarget { get; init; }

    /// <summary>Query string with its leading <c>?</c>, still encoded; "" when none.</summary>
    public string QueryString { get; init; } = "";

    /// <summary>Request headers, including a <c>Cookie</c> header rebuilt from <c>cookies</c> and <c>Host</c>.</summary>
    public required HeaderDictionary Headers { get; init; }

    /// <summary><c>https</c> or <c>http</c>, from <c>x-forwarded-proto</c>.</summary>
    public string Scheme { get; init; } = "https";

    /// <summary>Protocol, e.g. <c>HTTP/1.1</c>.</summary>
    public string Protocol { get; init; } = "HTTP/1.1";

    /// <summary>Caller's address, when the event says it.</summary>
    public IPAddress? RemoteIpAddress { get; init; }

    /// <summary>Caller's port (from <c>x-forwarded-port</c> is the server port; this is 0 when unknown).</summary>
    public int RemotePort { get; init; }

    /// <summary>Server port, from <c>x-forwarded-port</c> (443 by default for https).</summary>
    public int LocalPort { get; init; }

    /// <summary>
    /// The decoded request body; empty when none. A text body without escapes is a slice of the event bytes (valid for
    /// the invocation), any other is its own array.
    /// </summary>
    public ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>The caller's identity, when <see cref="LambdaStreamingOptions.MapIdentityToUser"/> is on and the event has one.</summary>
    public ClaimsPrincipal? User { get; init; }

    /// <summary>REST API mutual-TLS client certificate, when present.</summary>
    public X509Certificate2? ClientCertificate { get; init; }
}
