namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// The last three bytes of a <c>text/event-stream</c> body, enough to tell whether it ends an event: an event ends with
/// an empty line, and a line ends with CRLF, LF or CR (HTML's server-sent events grammar). A value, updated in place
/// per write at the cost of reading at most three bytes.
/// </summary>
internal struct EventStreamTail
{
    private const byte LineFeed = (byte)'\n';
    private const byte CarriageReturn = (byte)'\r';

    // The last bytes, the latest in the low byte; and how many of them there are (up to 3).
    private int _bytes;
    private int _count;

    /// <summary>
    /// Whether the body ends where an event ended (or before any byte), so a comment written now belongs to no event:
    /// it ends with LF LF, CRLF LF, CR CRLF, CRLF CRLF, LF CRLF or CR CR. A trailing CR after a line end (LF CR,
    /// CRLF CR) does not count: its LF may still come.
    /// </summary>
    public readonly bool EndsEvent
    {
        get
        {
            if (_count == 0)
            {
                return true;
            }

            var last = (byte)_bytes;
            var before = _count > 1 ? (byte)(_bytes >> 8) : (byte)0;
            var third = _count > 2 ? (byte)(_bytes >> 16) : (byte)0;
            return last switch
            {
                LineFeed => before == LineFeed || (before == CarriageReturn && third is LineFeed or CarriageReturn),
                CarriageReturn => before == CarriageReturn,
                _ => false,
            };
        }
    }

    /// <summary>Takes <paramref name="written"/>, the bytes that now end the body, into account.</summary>
    public void Append(ReadOnlySpan<byte> written)
    {
        if (written.Length > 3)
        {
            written = written[^3..];
        }

        foreach (var b in written)
        {
            _bytes = (_bytes << 8) | b;
        }

        _count = Math.Min(_count + written.Length, 3);
    }
}
