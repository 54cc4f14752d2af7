using System.Buffers;
using System.Text;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// HTTP/1.1 chunked framing for the streamed <c>/response</c> request, written by hand because
/// <c>HttpClient</c> cannot send request trailers. A chunk's data is never copied to frame it: the send queue gathers a
/// chunk-size line, the data where it lies and CRLF into one socket write.
/// </summary>
internal static class ChunkFraming
{
    /// <summary>The trailer names, declared in the request head as the streaming protocol requires.</summary>
    public const string ErrorTypeTrailer = "Lambda-Runtime-Function-Error-Type";

    /// <inheritdoc cref="ErrorTypeTrailer"/>
    public const string ErrorBodyTrailer = "Lambda-Runtime-Function-Error-Body";

    /// <summary>The longest chunk-size line <see cref="WriteHeader"/> writes: 16 hex digits and CRLF.</summary>
    public const int MaxHeaderLength = 18;

    /// <summary>The last chunk of a body that ended cleanly.</summary>
    public static ReadOnlySpan<byte> End => "0\r\n\r\n"u8;

    /// <summary>What follows a chunk's data: CRLF.</summary>
    public static ReadOnlySpan<byte> DataEnd => "\r\n"u8;

    /// <summary>What follows the data of the body's final chunk: CRLF, then the last chunk.</summary>
    public static ReadOnlySpan<byte> DataEndAndEnd => "\r\n0\r\n\r\n"u8;

    /// <summary>
    /// Writes the chunk-size line of a chunk of <paramref name="dataLength"/> bytes (hex digits and CRLF) at the start
    /// of <paramref name="destination"/>; returns its length.
    /// </summary>
    public static int WriteHeader(Span<byte> destination, long dataLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dataLength, 1);
        var digits = HexDigitCount(dataLength);
        WriteHex(destination[..digits], dataLength);
        destination[digits] = (byte)'\r';
        destination[digits + 1] = (byte)'\n';
        return digits + 2;
    }

    /// <summary>
    /// Writes the last chunk of a body that failed after the prelude went out: <c>0\r\n</c>, the two error trailers
    /// (the body as standard base64 of the error JSON) and the closing empty line.
    /// </summary>
    public static void WriteErrorEnd(IBufferWriter<byte> output, string errorType, ReadOnlySpan<byte> errorJson)
    {
        var text = new StringBuilder()
            .Append("0\r\n")
            .Append(ErrorTypeTrailer).Append(": ").Append(HeaderValue(errorType)).Append("\r\n")
            .Append(ErrorBodyTrailer).Append(": ").Append(Convert.ToBase64String(errorJson)).Append("\r\n")
            .Append("\r\n")
            .ToString();
        Encoding.ASCII.GetBytes(text, output);
    }

    /// <summary>Makes <paramref name="value"/> safe as a header value: visible ASCII and spaces only.</summary>
    public static string HeaderValue(string value) =>
        string.Create(value.Length, value, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = source[i] is >= ' ' and < (char)0x7F ? source[i] : '_';
            }
        });

    /// <summary>Writes <paramref name="value"/> in upper-case hex, filling <paramref name="destination"/> exactly.</summary>
    private static void WriteHex(Span<byte> destination, long value)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)"0123456789ABCDEF"[(int)(value & 0xF)];
            value >>= 4;
        }
    }

    private static int HexDigitCount(long value)
    {
        var digits = 1;
        while ((value >>= 4) != 0)
        {
            digits++;
        }

        return digits;
    }
}
