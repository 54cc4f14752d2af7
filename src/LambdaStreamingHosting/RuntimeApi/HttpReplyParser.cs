using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// Reads one HTTP/1.1 reply (status line, headers, then a <c>Content-Length</c>, chunked or read-to-close body) from
/// a <see cref="PipeReader"/>: into a <see cref="RuntimeApiReply"/>, or, for <c>/next</c>, straight into the loop's
/// reused <see cref="Invocation"/> (headers decoded from their bytes, the event into its pooled buffer). The Runtime
/// API is a trusted local peer, but a broken reply still gets a clear error (<see cref="InvalidDataException"/>)
/// rather than a hang.
/// </summary>
internal static class HttpReplyParser
{
    private const int MaxHeadBytes = 64 * 1024;
    private const int MaxBodyBytes = 64 * 1024 * 1024;

    /// <summary>What a reply head's header lines are handed to.</summary>
    internal interface IHeaderSink
    {
        void AddHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);
    }

    /// <summary>Bodies up to this size are compared with the previous reply's (answers are acknowledged alike).</summary>
    public const int ReusedBodyLimit = 1024;

    /// <summary>
    /// Reads a reply with its header lines and its body, each in an array of its own; or, when it is byte for byte
    /// <paramref name="previous"/> (the connection's last reply, with a body of at most <see cref="ReusedBodyLimit"/>
    /// bytes), that reply again (immutable), so acknowledging answer after answer allocates nothing.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<RuntimeApiReply> ReadAsync(PipeReader reader, CancellationToken cancellationToken, RuntimeApiReply? previous = null)
    {
        var head = await ReadHeadAsync(reader, default(NoSink), cancellationToken, keepHeaderLines: true, previous?.HeaderLines).ConfigureAwait(false);
        var headerLines = head.HeaderLines ?? [];
        if (previous is not null && !(ReferenceEquals(headerLines, previous.HeaderLines) && head.StatusCode == previous.StatusCode && head.KeepAlive == previous.KeepAlive))
        {
            previous = null;
        }

        byte[] body = [];
        if (head is { HasBody: true, Chunked: false, ContentLength: { } length })
        {
            if (previous is not null && length == previous.Body.Length && length <= ReusedBodyLimit)
            {
                var result = await reader.ReadAtLeastAsync((int)length, cancellationToken).ConfigureAwait(false);
                if (result.Buffer.Length < length)
                {
                    reader.AdvanceTo(result.Buffer.End);
                    throw new EndOfStreamException($"The Runtime API closed the connection after {result.Buffer.Length} of {length} body bytes.");
                }

                var bytes = result.Buffer.Slice(0, length);
                body = SameBytes(bytes, previous.Body) ? previous.Body : bytes.ToArray();
                reader.AdvanceTo(bytes.End);
            }
            else
            {
                body = GC.AllocateUninitializedArray<byte>((int)length);
                await ReadExactlyAsync(reader, body, cancellationToken).ConfigureAwait(false);
            }
        }
        else if (head.HasBody)
        {
            var writer = new ArrayBufferWriter<byte>();
            await ReadBodyAsync(reader, head, writer, cancellationToken).ConfigureAwait(false);
            body = writer.WrittenSpan.ToArray();
        }

        return previous is not null && ReferenceEquals(body, previous.Body)
            ? previous
            : new RuntimeApiReply(head.StatusCode, headerLines, body, head.KeepAlive);
    }

    /// <summary>Reads a <c>/next</c> reply into <paramref name="invocation"/> (after its <see cref="Invocation.Reset"/>).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<ReplyHead> ReadInvocationAsync(PipeReader reader, Invocation invocation, CancellationToken cancellationToken)
    {
        invocation.Reset();
        var head = await ReadHeadAsync(reader, new InvocationSink(invocation), cancellationToken).ConfigureAwait(false);
        await ReadBodyAsync(reader, head, invocation.EventWriter, cancellationToken).ConfigureAwait(false);
        return head;
    }

    /// <summary>
    /// Parses a reply head at the start of <paramref name="reader"/>; false (with <paramref name="reader"/> unchanged
    /// and nothing handed to <paramref name="sink"/>) when it is not complete yet.
    /// </summary>
    /// <param name="reader">The bytes read so far.</param>
    /// <param name="sink">Takes each header.</param>
    /// <param name="head">The parsed head.</param>
    /// <param name="keepHeaderLines">Whether to keep the raw header lines (<see cref="ReplyHead.HeaderLines"/>).</param>
    /// <param name="sameHeaderLines">Kept header lines to hand out again when the reply's are the same bytes.</param>
    internal static bool TryParseHead<TSink>(ref SequenceReader<byte> reader, TSink sink, out ReplyHead head, bool keepHeaderLines = false, byte[]? sameHeaderLines = null)
        where TSink : IHeaderSink
    {
        head = default;
        var probe = reader;
        if (!probe.TryReadTo(out ReadOnlySequence<byte> headBytes, "\r\n\r\n"u8))
        {
            return false;
        }

        var lines = new SequenceReader<byte>(headBytes);
        var statusLine = NextLine(ref lines);
        var headerLines = keepHeaderLines && !lines.End
            ? sameHeaderLines is not null && SameBytes(lines.UnreadSequence, sameHeaderLines) ? sameHeaderLines : lines.UnreadSequence.ToArray()
            : null;
        var framing = default(Framing);
        while (!lines.End)
        {
            AddHeader(NextLine(ref lines), sink, ref framing);
        }

        head = ParseStatusLine(statusLine, framing) with { HeaderLines = headerLines };
        reader = probe;
        return true;
    }

    /// <summary>Whether <paramref name="bytes"/> holds exactly <paramref name="expected"/>.</summary>
    private static bool SameBytes(ReadOnlySequence<byte> bytes, byte[] expected)
    {
        if (bytes.Length != expected.Length)
        {
            return false;
        }

        var offset = 0;
        foreach (var part in bytes)
        {
            if (!part.Span.SequenceEqual(expected.AsSpan(offset, part.Length)))
            {
                return false;
            }

            offset += part.Length;
        }

        return true;
    }

    private static ReadOnlySequence<byte> NextLine(ref SequenceReader<byte> lines)
    {
        if (lines.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8))
        {
            return line;
        }

        // The last line of the head: its CRLF was part of the blank-line terminator.
        line = lines.UnreadSequence;
        lines.AdvanceToEnd();
        return line;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<ReplyHead> ReadHeadAsync<TSink>(PipeReader pipe, TSink sink, CancellationToken cancellationToken, bool keepHeaderLines = false, byte[]? sameHeaderLines = null)
        where TSink : IHeaderSink
    {
        while (true)
        {
            var result = await pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
            var reader = new SequenceReader<byte>(result.Buffer);
            if (TryParseHead(ref reader, sink, out var head, keepHeaderLines, sameHeaderLines))
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

    private static ReplyHead ParseStatusLine(ReadOnlySequence<byte> line, Framing framing)
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

        var keepAlive = statusLine[..versionEnd].SequenceEqual("HTTP/1.1"u8) ? !framing.ConnectionClose : framing.ConnectionKeepAlive;
        return new ReplyHead(status, keepAlive, framing.Chunked, framing.Chunked ? null : framing.ContentLength);
    }

    /// <summary>
    /// Hands a header line, trimmed, to <paramref name="sink"/>; the headers that frame the body
    /// (<c>Content-Length</c>, <c>Transfer-Encoding</c>, <c>Connection</c>) are read from their bytes as well.
    /// </summary>
    private static void AddHeader<TSink>(ReadOnlySequence<byte> line, TSink sink, ref Framing framing)
        where TSink : IHeaderSink
    {
        var bytes = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
        var colon = bytes.IndexOf((byte)':');
        if (colon <= 0)
        {
            throw new InvalidDataException($"The Runtime API sent a malformed header line: '{Encoding.Latin1.GetString(bytes)}'.");
        }

        var name = TrimWhiteSpace(bytes[..colon]);
        var value = TrimWhiteSpace(bytes[(colon + 1)..]);
        if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
        {
            if (framing.ContentLength is not null || !Utf8Parser.TryParse(value, out ulong length, out var used) || used != value.Length || length > MaxBodyBytes)
            {
                throw new InvalidDataException($"The Runtime API sent an invalid Content-Length: '{Encoding.Latin1.GetString(value)}'.");
            }

            framing.ContentLength = (long)length;
        }
        else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
        {
            framing.Chunked |= ContainsIgnoreCase(value, "chunked"u8);
        }
        else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
        {
            framing.ConnectionClose |= ContainsIgnoreCase(value, "close"u8);
            framing.ConnectionKeepAlive |= ContainsIgnoreCase(value, "keep-alive"u8);
        }

        sink.AddHeader(name, value);
    }

    private static bool ContainsIgnoreCase(ReadOnlySpan<byte> text, ReadOnlySpan<byte> word)
    {
        for (var i = 0; i + word.Length <= text.Length; i++)
        {
            if (Ascii.EqualsIgnoreCase(text.Slice(i, word.Length), word))
            {
                return true;
            }
        }

        return false;
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

    private static ValueTask ReadBodyAsync(PipeReader pipe, ReplyHead head, IBufferWriter<byte> body, CancellationToken cancellationToken)
    {
        if (head.Chunked)
        {
            return ReadChunkedBodyAsync(pipe, body, cancellationToken);
        }

        if (head.ContentLength is { } length)
        {
            return ReadExactlyAsync(pipe, (int)length, body, cancellationToken);
        }

        // HTTP/1.1 keep-alive without a length: only bodyless replies are valid; treat as empty.
        return head.KeepAlive ? ValueTask.CompletedTask : ReadToEndAsync(pipe, body, cancellationToken);
    }

    /// <summary>Reads a body of <paramref name="length"/> bytes into <paramref name="body"/>, whose buffer takes it in one piece.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask ReadExactlyAsync(PipeReader pipe, int length, IBufferWriter<byte> body, CancellationToken cancellationToken)
    {
        await ReadExactlyAsync(pipe, body.GetMemory(length)[..length], cancellationToken).ConfigureAwait(false);
        body.Advance(length);
    }

    /// <summary>Fills <paramref name="target"/> with the body as it arrives (the pipe never holds all of it).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask ReadExactlyAsync(PipeReader pipe, Memory<byte> target, CancellationToken cancellationToken)
    {
        var done = 0;
        while (done < target.Length)
        {
            var result = await pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
            var part = result.Buffer.Slice(0, Math.Min(target.Length - done, result.Buffer.Length));
            part.CopyTo(target.Span[done..]);
            done += (int)part.Length;
            pipe.AdvanceTo(part.End);
            if (done < target.Length && result.IsCompleted)
            {
                throw new EndOfStreamException($"The Runtime API closed the connection after {done} of {target.Length} body bytes.");
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask ReadChunkedBodyAsync(PipeReader pipe, IBufferWriter<byte> body, CancellationToken cancellationToken)
    {
        long written = 0;
        while (true)
        {
            var result = await pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
            var reader = new SequenceReader<byte>(result.Buffer);
            var done = false;
            while (!done && TryReadChunk(ref reader, body, out var size, out done))
            {
                written += size;
                if (written > MaxBodyBytes)
                {
                    throw new InvalidDataException($"The Runtime API reply body is larger than {MaxBodyBytes} bytes.");
                }
            }

            pipe.AdvanceTo(reader.Position, result.Buffer.End);
            if (done)
            {
                return;
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
    private static bool TryReadChunk(ref SequenceReader<byte> input, IBufferWriter<byte> body, out int size, out bool done)
    {
        done = false;
        size = 0;
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

        if (!Utf8Parser.TryParse(sizeSpan, out int chunkSize, out var consumed, 'X') || consumed != sizeSpan.Length || chunkSize < 0)
        {
            throw new InvalidDataException("The Runtime API sent a malformed chunk size.");
        }

        if (chunkSize == 0)
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

        if (reader.Remaining < chunkSize + 2L)
        {
            return false;
        }

        Write(body, reader.UnreadSequence.Slice(0, chunkSize));
        reader.Advance(chunkSize);
        if (!reader.IsNext("\r\n"u8, advancePast: true))
        {
            throw new InvalidDataException("The Runtime API sent a chunk without its closing CRLF.");
        }

        size = chunkSize;
        input = reader;
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask ReadToEndAsync(PipeReader pipe, IBufferWriter<byte> body, CancellationToken cancellationToken)
    {
        long written = 0;
        while (true)
        {
            var result = await pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
            written += result.Buffer.Length;
            if (written > MaxBodyBytes)
            {
                throw new InvalidDataException($"The Runtime API reply body is larger than {MaxBodyBytes} bytes.");
            }

            Write(body, result.Buffer);
            pipe.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return;
            }
        }
    }

    private static void Write(IBufferWriter<byte> body, ReadOnlySequence<byte> data)
    {
        foreach (var segment in data)
        {
            body.Write(segment.Span);
        }
    }

    /// <summary>
    /// The value of header <paramref name="name"/> (case-insensitive) in a reply's <paramref name="headerLines"/>,
    /// repeated headers joined with <c>, </c>; <see langword="null"/> when it has none.
    /// </summary>
    internal static string? FindHeader(ReadOnlySpan<byte> headerLines, string name)
    {
        string? found = null;
        foreach (var range in headerLines.Split("\r\n"u8))
        {
            var line = headerLines[range];
            var colon = line.IndexOf((byte)':');
            if (colon > 0 && Ascii.EqualsIgnoreCase(TrimWhiteSpace(line[..colon]), name))
            {
                var value = Encoding.Latin1.GetString(TrimWhiteSpace(line[(colon + 1)..]));
                found = found is null ? value : found + ", " + value;
            }
        }

        return found;
    }

    /// <summary>
    /// A parsed status line and the headers that frame the body; with <see cref="HeaderLines"/> (the raw header lines,
    /// CRLF-separated) when they were asked for.
    /// </summary>
    internal readonly record struct ReplyHead(int StatusCode, bool KeepAlive, bool Chunked, long? ContentLength, byte[]? HeaderLines = null)
    {
        /// <summary>Whether a body follows (chunked, a non-zero length, or read until the peer closes).</summary>
        public bool HasBody => Chunked || (ContentLength is { } length ? length > 0 : !KeepAlive);
    }

    /// <summary>What the framing headers said, gathered line by line.</summary>
    private struct Framing
    {
        public long? ContentLength;
        public bool Chunked;
        public bool ConnectionClose;
        public bool ConnectionKeepAlive;
    }

    /// <summary>Hands the <c>/next</c> headers to the invocation being filled.</summary>
    private readonly struct InvocationSink(Invocation invocation) : IHeaderSink
    {
        public void AddHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => invocation.AddHeader(name, value);
    }

    /// <summary>For replies whose headers are kept as raw lines (<see cref="ReplyHead.HeaderLines"/>): nothing to do per header.</summary>
    private readonly struct NoSink : IHeaderSink
    {
        public void AddHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
        }
    }
}
