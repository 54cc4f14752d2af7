using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using LambdaStreamingHosting.Buffers;

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

    /// <summary>
    /// Reads a reply: its status and keep-alive, and its body when the status is not 2xx (a 2xx body, such as the
    /// acknowledgement's <c>{"status":"OK"}</c>, is read past without being kept).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<RuntimeApiReply> ReadAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        var head = await ReadHeadAsync(reader, default(NoSink), cancellationToken).ConfigureAwait(false);
        var reply = new RuntimeApiReply(head.StatusCode, head.KeepAlive);
        if (reply.IsSuccess)
        {
            await ReadBodyAsync(reader, head, body: null, cancellationToken).ConfigureAwait(false);
            return reply;
        }

        var body = new ArrayBufferWriter<byte>();
        await ReadBodyAsync(reader, head, body, cancellationToken).ConfigureAwait(false);
        return new RuntimeApiReply(head.StatusCode, head.KeepAlive, body.WrittenSpan.ToArray());
    }

    /// <summary>Reads a <c>/next</c> reply into <paramref name="invocation"/>, which it resets first (<see cref="Invocation.Reset"/>).</summary>
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
    private static bool TryParseHead<TSink>(ref SequenceReader<byte> reader, TSink sink, out ReplyHead head)
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
        var framing = default(Framing);
        while (!lines.End)
        {
            AddHeader(NextLine(ref lines), sink, ref framing);
        }

        head = ParseStatusLine(statusLine, framing);
        reader = probe;
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
    private static async ValueTask<ReplyHead> ReadHeadAsync<TSink>(PipeReader pipe, TSink sink, CancellationToken cancellationToken)
        where TSink : IHeaderSink
    {
        while (true)
        {
            var result = await pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
            var reader = new SequenceReader<byte>(result.Buffer);
            if (TryParseHead(ref reader, sink, out var head))
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
            framing.Chunked |= AsciiText.ContainsIgnoreCase(value, "chunked"u8);
        }
        else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
        {
            framing.ConnectionClose |= AsciiText.ContainsIgnoreCase(value, "close"u8);
            framing.ConnectionKeepAlive |= AsciiText.ContainsIgnoreCase(value, "keep-alive"u8);
        }

        sink.AddHeader(name, value);
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

    /// <summary>Reads the body <paramref name="head"/> announces into <paramref name="body"/>, or past it when that is <see langword="null"/>.</summary>
    private static ValueTask ReadBodyAsync(PipeReader pipe, ReplyHead head, IBufferWriter<byte>? body, CancellationToken cancellationToken)
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

    /// <summary>
    /// Reads a body of <paramref name="length"/> bytes as it arrives (the pipe never holds all of it) into
    /// <paramref name="body"/>, whose buffer takes it in one piece, or past it when that is <see langword="null"/>.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask ReadExactlyAsync(PipeReader pipe, int length, IBufferWriter<byte>? body, CancellationToken cancellationToken)
    {
        var target = body is null ? default : body.GetMemory(length)[..length];
        var done = 0;
        while (done < length)
        {
            var result = await pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
            var part = result.Buffer.Slice(0, Math.Min(length - done, result.Buffer.Length));
            if (body is not null)
            {
                part.CopyTo(target.Span[done..]);
            }

            done += (int)part.Length;
            pipe.AdvanceTo(part.End);
            if (done < length && result.IsCompleted)
            {
                throw new EndOfStreamException($"The Runtime API closed the connection after {done} of {length} body bytes.");
            }
        }

        body?.Advance(length);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask ReadChunkedBodyAsync(PipeReader pipe, IBufferWriter<byte>? body, CancellationToken cancellationToken)
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
    private static bool TryReadChunk(ref SequenceReader<byte> input, IBufferWriter<byte>? body, out int size, out bool done)
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
    private static async ValueTask ReadToEndAsync(PipeReader pipe, IBufferWriter<byte>? body, CancellationToken cancellationToken)
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

    /// <summary>Copies <paramref name="data"/> to <paramref name="body"/>; nothing when there is none (a body read past).</summary>
    private static void Write(IBufferWriter<byte>? body, ReadOnlySequence<byte> data)
    {
        if (body is null)
        {
            return;
        }

        foreach (var segment in data)
        {
            body.Write(segment.Span);
        }
    }

    /// <summary>A parsed status line and the headers that frame the body.</summary>
    internal readonly record struct ReplyHead(int StatusCode, bool KeepAlive, bool Chunked, long? ContentLength);

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

    /// <summary>For replies whose headers matter only for framing (answers, error reports): nothing to do per header.</summary>
    private readonly struct NoSink : IHeaderSink
    {
        public void AddHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
        }
    }
}
