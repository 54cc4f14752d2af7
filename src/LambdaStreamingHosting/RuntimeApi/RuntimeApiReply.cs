using System.Text;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// An HTTP/1.1 reply from the Runtime API: status, headers and the whole body. The headers stay raw bytes until one is
/// asked for (replies to answers are read every invocation, their headers hardly ever). Immutable: a connection hands
/// out its previous reply again when the next one is the same bytes.
/// </summary>
internal sealed class RuntimeApiReply
{
    private readonly byte[] _headerLines;

    public RuntimeApiReply(int statusCode, byte[] headerLines, byte[] body, bool keepAlive)
    {
        StatusCode = statusCode;
        _headerLines = headerLines;
        Body = body;
        KeepAlive = keepAlive;
    }

    /// <summary>The raw header lines (for <see cref="HttpReplyParser"/> to recognise the same reply again).</summary>
    internal byte[] HeaderLines => _headerLines;

    /// <summary>The status code, e.g. 200 for <c>/next</c> and 202 for answers.</summary>
    public int StatusCode { get; }

    /// <summary>The body, de-chunked.</summary>
    public byte[] Body { get; }

    /// <summary>Whether the connection may carry another request (HTTP/1.1 without <c>Connection: close</c>).</summary>
    public bool KeepAlive { get; }

    /// <summary>Whether the Runtime API accepted the request (2xx).</summary>
    public bool IsSuccess => StatusCode is >= 200 and < 300;

    /// <summary>The header's value (by case-insensitive name, repeated headers joined with <c>, </c>), or <see langword="null"/>.</summary>
    public string? Header(string name) => HttpReplyParser.FindHeader(_headerLines, name);

    /// <summary>The body as text for logs (at most 1,000 characters).</summary>
    public string BodyText()
    {
        var text = Encoding.UTF8.GetString(Body, 0, Math.Min(Body.Length, 1000));
        return Body.Length > 1000 ? text + "…" : text;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{StatusCode} {BodyText()}";
}
