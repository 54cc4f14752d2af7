using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
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

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
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

            AddHeader(headers, line);
        }

        head = ParseStatusLine(statusLine, headers);
        reader = probe;
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
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

    private static ReplyHead ParseStatusLine(ReadOnlySequence<byte> line, Dictionary<string, string> headers)
    {
        // HTTP/1.1 202 Accepted
        var statusLine = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
        var versionEnd = statusLine.IndexOf((byte)' ');
        var afterVersion = versionEnd < 0 ? default : statusLine[(versionEnd + 1)..];
        var codeEnd = afterVersion.IndexOf((byte)' ');
        var code = codeEnd < 0 ? afterVersion : afterVersion[..codeEnd];
        if (versionEnd < 0 || !statusLine.StartsWith("HTTP/1."u8) ||
            !int.TryParse(code, NumberStyles.None, CultureInfo.InvariantCulture, out var status) || status is < 100 or > 999)
        {
            throw new InvalidDataException($"The Runtime API sent a malformed status line: '{Encoding.Latin1.GetString(statusLine)}'.");
        }

        var connection = headers.GetValueOrDefault("Connection") ?? "";
        var keepAlive = statusLine[..versionEnd].SequenceEqual("HTTP/1.1"u8)
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

    /// <summary>
    /// Adds a header line, decoded as Latin-1 and trimmed, straight from its bytes. The names the Runtime API sends
    /// with every reply come from <see cref="KnownNames"/> instead of a new string each.
    /// </summary>
    private static void AddHeader(Dictionary<string, string> headers, ReadOnlySequence<byte> line)
    {
        var bytes = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
        var colon = bytes.IndexOf((byte)':');
        if (colon <= 0)
        {
            throw new InvalidDataException($"The Runtime API sent a malformed header line: '{Encoding.Latin1.GetString(bytes)}'.");
        }

        var nameBytes = TrimWhiteSpace(bytes[..colon]);
        var name = KnownName(nameBytes) ?? Encoding.Latin1.GetString(nameBytes);
        var value = Encoding.Latin1.GetString(TrimWhiteSpace(bytes[(colon + 1)..]));
        headers[name] = headers.TryGetValue(name, out var existing) ? existing + ", " + value : value;
    }

    /// <summary>Header names of Runtime API replies, matched byte for byte (case-sensitively).</summary>
    private static readonly string[] KnownNames =
    [
        "Lambda-Runtime-Aws-Request-Id", "Lambda-Runtime-Deadline-Ms", "Lambda-Runtime-Invoked-Function-Arn",
        "Lambda-Runtime-Trace-Id", "Lambda-Runtime-Client-Context", "Lambda-Runtime-Cognito-Identity",
        "Lambda-Runtime-Aws-Tenant-Id", "Content-Type", "Content-Length", "Transfer-Encoding", "Connection", "Date",
    ];

    private static string? KnownName(ReadOnlySpan<byte> name)
    {
        foreach (var known in KnownNames)
        {
            if (known.Length == name.Length && Ascii.Equals(name, known))
            {
                return known;
            }
        }

        return null;
    }

    /// <summary>Trims what <see cref="string.Trim()"/> would trim from the Latin-1 text of <paramref name="bytes"/>.</summary>
    private static ReadOnlySpan<byte> TrimWhiteSpace(ReadOnlySpan<byte> bytes)
    {
        var start = 0;
        while (start < bytes.Length && char.IsWhiteSpace((char)bytes[start]))
        {
            start++;
        }

        var end = bytes.Length;
        while (end > start && char.IsWhiteSpace((char)bytes[end - 1]))
        {
            end--;
        }

        return bytes[start..end];
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
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

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
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

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
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
