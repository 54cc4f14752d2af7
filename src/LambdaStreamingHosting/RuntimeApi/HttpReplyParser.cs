using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// Reads one HTTP/1.1 reply (status line, headers, then a <c>Content-Length</c>, chunked or read-to-close body) from
/// a <see cref="PipeReader"/>. The Runtime API is a trusted local peer, but a broken reply still gets a clear error
/// (<see cref="InvalidDataException"/>) rather than a hang.
/// </summary>
internal static class HttpReplyParser
{
    private const int MaxHeadBytes = 64 * 1024;
    private const int MaxBodyBytes = 64 * 1024 * 1024;

    public static async ValueTask<RuntimeApiReply> ReadAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        var head = await ReadHeadAsync(reader, cancellationToken).ConfigureAwait(false);
        byte[] body;
        if (head.Chunked)
        {
            body = await ReadChunkedBodyAsync(reader, cancellationToken).ConfigureAwait(false);
        }
        else if (head.ContentLength is { } length)
        {
            body = await ReadExactlyAsync(reader, length, cancellationToken).ConfigureAwait(false);
        }
        else if (!head.KeepAlive)
        {
            body = await ReadToEndAsync(reader, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // HTTP/1.1 keep-alive without a length: only bodyless replies are valid; treat as empty.
            body = [];
        }

        return new RuntimeApiReply(head.StatusCode, head.Headers, body, head.KeepAlive);
    }

    /// <summary>
    /// Parses a reply head at the start of <paramref name="reader"/>; false (with <paramref name="reader"/> unchanged)
    /// when it is not complete yet.
    /// </summary>
    internal static bool TryParseHead(ref SequenceReader<byte> reader, out ReplyHead head)
    {
        head = default;
        var probe = reader;
        if (!probe.TryReadTo(out ReadOnlySequence<byte> statusLine, "\r\n"u8))
        {
            return false;
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (true)
        {
            if (!probe.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8))
            {
                return false;
            }

            if (line.IsEmpty)
            {
                break;
            }

            AddHeader(headers, Encoding.Latin1.GetString(line));
        }

        head = ParseStatusLine(Encoding.Latin1.GetString(statusLine), headers);
        reader = probe;
        return true;
    }

    private static async ValueTask<ReplyHead> ReadHeadAsync(PipeReader pipe, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
            var reader = new SequenceReader<byte>(result.Buffer);
            if (TryParseHead(ref reader, out var head))
            {
                pipe.AdvanceTo(reader.Position);
                return head;
            }

            if (result.Buffer.Length > MaxHeadBytes)
            {
                throw new InvalidDataException($"The Runtime API reply head is larger than {MaxHeadBytes} bytes.");
            }

            if (result.IsCompleted)
            {
                throw new EndOfStreamException(result.Buffer.IsEmpty
                    ? "The Runtime API closed the connection without replying."
                    : "The Runtime API closed the connection in the middle of a reply head.");
            }

            pipe.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static ReplyHead ParseStatusLine(string statusLine, Dictionary<string, string> headers)
    {
        // HTTP/1.1 202 Accepted
        var parts = statusLine.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) ||
            !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status) || status is < 100 or > 999)
        {
            throw new InvalidDataException($"The Runtime API sent a malformed status line: '{statusLine}'.");
        }

        var connection = headers.GetValueOrDefault("Connection") ?? "";
        var keepAlive = parts[0] == "HTTP/1.1"
            ? !connection.Contains("close", StringComparison.OrdinalIgnoreCase)
            : connection.Contains("keep-alive", StringComparison.OrdinalIgnoreCase);
        var chunked = headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase);
        long? contentLength = null;
        if (!chunked && headers.TryGetValue("Content-Length", out var cl))
        {
            if (!long.TryParse(cl, NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length > MaxBodyBytes)
            {
                throw new InvalidDataException($"The Runtime API sent an invalid Content-Length: '{cl}'.");
            }

            contentLength = length;
        }

        return new ReplyHead(status, headers, keepAlive, chunked, contentLength);
    }

    private static void AddHeader(Dictionary<string, string> headers, string line)
    {
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw new InvalidDataException($"The Runtime API sent a malformed header line: '{line}'.");
        }

        var name = line[..colon].Trim();
        var value = line[(colon + 1)..].Trim();
        headers[name] = headers.TryGetValue(name, out var existing) ? existing + ", " + value : value;
    }

    private static async ValueTask<byte[]> ReadExactlyAsync(PipeReader pipe, long length, CancellationToken cancellationToken)
    {
        if (length == 0)
        {
            return [];
        }

        var result = await pipe.ReadAtLeastAsync(checked((int)length), cancellationToken).ConfigureAwait(false);
        if (result.Buffer.Length < length)
        {
            throw new EndOfStreamException($"The Runtime API closed the connection after {result.Buffer.Length} of {length} body bytes.");
        }

        var body = result.Buffer.Slice(0, length);
        var bytes = body.ToArray();
        pipe.AdvanceTo(body.End);
        return bytes;
    }

    private static async ValueTask<byte[]> ReadChunkedBodyAsync(PipeReader pipe, CancellationToken cancellationToken)
    {
        var body = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
            var reader = new SequenceReader<byte>(result.Buffer);
            var done = false;
            while (TryReadChunk(ref reader, body, out done) && !done)
            {
            }

            pipe.AdvanceTo(reader.Position, result.Buffer.End);
            if (done)
            {
                return body.WrittenSpan.ToArray();
            }

            if (body.WrittenCount > MaxBodyBytes)
            {
                throw new InvalidDataException($"The Runtime API reply body is larger than {MaxBodyBytes} bytes.");
            }

            if (result.IsCompleted)
            {
                throw new EndOfStreamException("The Runtime API closed the connection in the middle of a chunked reply.");
            }
        }
    }

    /// <summary>
    /// Reads one chunk (or the last chunk and its trailers, setting <paramref name="done"/>); false (with
    /// <paramref name="input"/> unchanged) when it is not complete yet.
    /// </summary>
    private static bool TryReadChunk(ref SequenceReader<byte> input, ArrayBufferWriter<byte> body, out bool done)
    {
        done = false;
        var reader = input;
        if (!reader.TryReadTo(out ReadOnlySequence<byte> sizeLine, "\r\n"u8))
        {
            return false;
        }

        var sizeSpan = sizeLine.IsSingleSegment ? sizeLine.FirstSpan : sizeLine.ToArray();
        var extension = sizeSpan.IndexOf((byte)';');
        if (extension >= 0)
        {
            sizeSpan = sizeSpan[..extension];
        }

        if (!Utf8Parser.TryParse(sizeSpan, out int size, out var consumed, 'X') || consumed != sizeSpan.Length || size < 0)
        {
            throw new InvalidDataException("The Runtime API sent a malformed chunk size.");
        }

        if (size == 0)
        {
            // Trailers, then an empty line.
            while (true)
            {
                if (!reader.TryReadTo(out ReadOnlySequence<byte> trailer, "\r\n"u8))
                {
                    return false;
                }

                if (trailer.IsEmpty)
                {
                    done = true;
                    input = reader;
                    return true;
                }
            }
        }

        if (reader.Remaining < size + 2L)
        {
            return false;
        }

        var data = reader.UnreadSequence.Slice(0, size);
        foreach (var segment in data)
        {
            body.Write(segment.Span);
        }

        reader.Advance(size);
        if (!reader.IsNext("\r\n"u8, advancePast: true))
        {
            throw new InvalidDataException("The Runtime API sent a chunk without its closing CRLF.");
        }

        input = reader;
        return true;
    }

    private static async ValueTask<byte[]> ReadToEndAsync(PipeReader pipe, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (result.IsCompleted)
            {
                var bytes = result.Buffer.ToArray();
                pipe.AdvanceTo(result.Buffer.End);
                return bytes;
            }

            if (result.Buffer.Length > MaxBodyBytes)
            {
                throw new InvalidDataException($"The Runtime API reply body is larger than {MaxBodyBytes} bytes.");
            }

            pipe.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>A parsed status line and headers.</summary>
    internal readonly record struct ReplyHead(int StatusCode, Dictionary<string, string> Headers, bool KeepAlive, bool Chunked, long? ContentLength);
}
