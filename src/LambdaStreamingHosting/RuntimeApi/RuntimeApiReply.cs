using System.Text;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// The Runtime API's reply to an answer, an error report or a SnapStart call: its status and whether the connection
/// stays open. The body is kept only when the status is not 2xx (it says what went wrong, for the log); an
/// acknowledgement (<c>202 {"status":"OK"}</c>) is read past, so acknowledging invocation after invocation allocates
/// nothing.
/// </summary>
internal readonly struct RuntimeApiReply
{
    private readonly byte[]? _body;

    public RuntimeApiReply(int statusCode, bool keepAlive, byte[]? body = null)
    {
        StatusCode = statusCode;
        KeepAlive = keepAlive;
        _body = body;
    }

    /// <summary>The status code, e.g. 202 for answers.</summary>
    public int StatusCode { get; }

    /// <summary>Whether the connection may carry another request (HTTP/1.1 without <c>Connection: close</c>).</summary>
    public bool KeepAlive { get; }

    /// <summary>Whether the Runtime API accepted the request (2xx).</summary>
    public bool IsSuccess => StatusCode is >= 200 and < 300;

    /// <summary>The body, de-chunked, of a reply that is not 2xx; empty for a 2xx.</summary>
    public ReadOnlySpan<byte> Body => _body;

    /// <summary>The body as text for logs (at most 1,000 characters).</summary>
    public string BodyText()
    {
        var body = Body;
        var text = Encoding.UTF8.GetString(body[..Math.Min(body.Length, 1000)]);
        return body.Length > 1000 ? text + "…" : text;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{StatusCode} {BodyText()}";
}
