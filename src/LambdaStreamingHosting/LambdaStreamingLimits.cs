namespace LambdaStreamingHosting;

/// <summary>
/// Kestrel's request limits (<c>KestrelServerLimits</c>), with Kestrel's names and defaults, applied to each request an
/// event describes before the app sees it. Anyone allowed to invoke the function can craft an event, so a request
/// Kestrel would refuse is refused here too, with Kestrel's status and an empty body, and logged with the limit hit.
/// Bound from <c>LambdaStreaming:Limits</c> (for example <c>LambdaStreaming__Limits__MaxRequestHeaderCount=200</c>).
/// </summary>
/// <remarks>
/// The request is measured as Kestrel measures the HTTP/1.1 request that would bring the app the same request line and
/// headers: one header line <c>name: value</c> + CRLF per header value the app sees (the <c>Cookie</c> header rebuilt
/// from <c>cookies</c> is one line; each value of a multi-value header is a line of its own; values a front end
/// joined with commas are one line), and the request line <c>METHOD target HTTP/1.1</c> + CRLF, whose target is the
/// path and query the app sees as <c>IHttpRequestFeature.RawTarget</c>. Lengths are in UTF-8 bytes. Headers the front
/// end adds (<c>X-Forwarded-For</c>, <c>X-Forwarded-Proto</c>, <c>X-Forwarded-Port</c>, <c>X-Amzn-Trace-Id</c>) count,
/// as they would for Kestrel behind a proxy.
/// </remarks>
public sealed class LambdaStreamingLimits
{
    /// <summary>
    /// The most bytes the header lines may total (each <c>name: value</c> and its CRLF); more is answered
    /// <c>431 Request Header Fields Too Large</c>. Default: 32,768, Kestrel's.
    /// </summary>
    public int MaxRequestHeadersTotalSize { get; set; } = 32 * 1024;

    /// <summary>
    /// The most header lines a request may have; more is answered <c>431 Request Header Fields Too Large</c>. Default:
    /// 100, Kestrel's.
    /// </summary>
    public int MaxRequestHeaderCount { get; set; } = 100;

    /// <summary>
    /// The most bytes the request line may have (method, target, <c>HTTP/1.1</c>, spaces and CRLF); more is answered
    /// <c>414 URI Too Long</c>. Default: 8,192, Kestrel's.
    /// </summary>
    public int MaxRequestLineSize { get; set; } = 8 * 1024;
}
