using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// One side of a loopback HTTP/1.1 connection, driven by hand with a fixed receive buffer: it sends prebuilt bytes and
/// reads whole messages (Content-Length or chunked with trailers). It allocates nothing per message, so a benchmark
/// built on it measures the server on the other side, not itself.
/// </summary>
internal sealed class RawHttpConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[256 * 1024];
    private int _start;
    private int _end;
    private int _lastStart;
    private int _lastLength;

    public RawHttpConnection(Socket socket)
    {
        socket.NoDelay = true;
        _socket = socket;
    }

    /// <summary>The last message read (valid until the next read).</summary>
    public ReadOnlySpan<byte> LastMessage => _buffer.AsSpan(_lastStart, _lastLength);

    public static async Task<RawHttpConnection> ConnectAsync(EndPoint endpoint)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint).ConfigureAwait(false);
        return new RawHttpConnection(socket);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            var sent = await _socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    /// <summary>Reads one complete HTTP message (request or response) and returns its length.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReceiveMessageAsync()
    {
        // Drop the previous message; keep whatever followed it.
        _start += _lastLength;
        _lastLength = 0;
        if (_start == _end)
        {
            _start = _end = 0;
        }

        while (true)
        {
            var length = HttpMessage.Length(_buffer.AsSpan(_start, _end - _start));
            if (length >= 0)
            {
                _lastStart = _start;
                _lastLength = length;
                return length;
            }

            if (_end == _buffer.Length)
            {
                if (_start == 0)
                {
                    throw new InvalidDataException($"An HTTP message is larger than the {_buffer.Length:N0}-byte benchmark buffer.");
                }

                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException("The peer closed the connection in the middle of a benchmark.");
            }

            _end += read;
        }
    }

    /// <summary>The last message as text, for checks outside the measured loop.</summary>
    public string LastMessageText() => Encoding.UTF8.GetString(LastMessage);

    public void Dispose() => _socket.Dispose();
}

/// <summary>Finds where an HTTP/1.1 message ends, without allocating.</summary>
internal static class HttpMessage
{
    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    private static ReadOnlySpan<byte> Crlf => "\r\n"u8;

    /// <summary>The length of the complete message at the start of <paramref name="data"/>, or -1 when more bytes are needed.</summary>
    public static int Length(ReadOnlySpan<byte> data)
    {
        var headEnd = data.IndexOf(HeadEnd);
        if (headEnd < 0)
        {
            return -1;
        }

        var head = data[..(headEnd + 2)];
        var bodyStart = headEnd + HeadEnd.Length;
        if (HeaderValue(head, "transfer-encoding"u8).IndexOf("chunked"u8) >= 0)
        {
            return ChunkedLength(data, bodyStart);
        }

        var contentLength = HeaderValue(head, "content-length"u8);
        if (contentLength.IsEmpty)
        {
            return bodyStart;
        }

        var length = 0;
        foreach (var digit in contentLength)
        {
            length = (length * 10) + (digit - '0');
        }

        return data.Length - bodyStart >= length ? bodyStart + length : -1;
    }

    private static int ChunkedLength(ReadOnlySpan<byte> data, int position)
    {
        while (true)
        {
            var lineEnd = data[position..].IndexOf(Crlf);
            if (lineEnd < 0)
            {
                return -1;
            }

            var size = 0;
            foreach (var c in data.Slice(position, lineEnd))
            {
                var value = c is >= (byte)'0' and <= (byte)'9' ? c - '0' : c is >= (byte)'a' and <= (byte)'f' ? c - 'a' + 10 : c is >= (byte)'A' and <= (byte)'F' ? c - 'A' + 10 : -1;
                if (value < 0)
                {
                    break; // chunk extensions
                }

                size = (size * 16) + value;
            }

            position += lineEnd + Crlf.Length;
            if (size == 0)
            {
                // Trailer lines, then an empty line.
                while (true)
                {
                    var trailerEnd = data[position..].IndexOf(Crlf);
                    if (trailerEnd < 0)
                    {
                        return -1;
                    }

                    position += trailerEnd + Crlf.Length;
                    if (trailerEnd == 0)
                    {
                        return position;
                    }
                }
            }

            position += size + Crlf.Length;
            if (position > data.Length)
            {
                return -1;
            }
        }
    }

    /// <summary>The value of a header in <paramref name="head"/> (lower-case name), trimmed; empty when absent.</summary>
    private static ReadOnlySpan<byte> HeaderValue(ReadOnlySpan<byte> head, ReadOnlySpan<byte> lowerName)
    {
        var position = head.IndexOf(Crlf) + Crlf.Length; // skip the start line
        while (position < head.Length)
        {
            var lineEnd = head[position..].IndexOf(Crlf);
            var line = head.Slice(position, lineEnd);
            position += lineEnd + Crlf.Length;
            var colon = line.IndexOf((byte)':');
            if (colon == lowerName.Length && Ascii.EqualsIgnoreCase(line[..colon], lowerName))
            {
                return line[(colon + 1)..].Trim((byte)' ');
            }
        }

        return [];
    }
}
