using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// One TCP connection to the Runtime API: raw writes of hand-built requests, replies read through a
/// <see cref="PipeReader"/>. A connection that failed or was told to close is never reused.
/// </summary>
internal sealed class RuntimeApiConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private GatherSender? _sender;
    // The two buffers of a head-and-body send, reused (the list overload empties it).
    private readonly List<ArraySegment<byte>> _pair = new(2);
    private bool _reusable = true;

    private RuntimeApiConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, leaveOpen: true));
    }

    /// <summary>Whether the connection can carry another request: no failure, keep-alive, and the peer has not closed it.</summary>
    public bool IsReusable
    {
        get
        {
            if (!_reusable)
            {
                return false;
            }

            try
            {
                // Readable with nothing to read means the peer closed the connection while it was idle.
                return !(_socket.Poll(0, SelectMode.SelectRead) && _socket.Available == 0);
            }
            catch (SocketException)
            {
                return false;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
        }
    }

    public static async Task<RuntimeApiConnection> OpenAsync(RuntimeApiEndpoint endpoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken).ConfigureAwait(false);
            return new RuntimeApiConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Writes <paramref name="data"/> completely; the task ends when the socket accepted it (backpressure).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            await _stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _reusable = false;
            throw;
        }
    }

    /// <summary>Writes <paramref name="first"/> and <paramref name="second"/> (a request head and its body) with one gather write, as the list overload.</summary>
    public ValueTask SendAsync(ArraySegment<byte> first, ArraySegment<byte> second, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _pair.Add(first);
        _pair.Add(second);
        return SendAsync(_pair, cancellationToken);
    }

    /// <summary>
    /// Socket sends the gather writes made on this connection so far: one per gather write, more only after a
    /// partial send. Tests and benchmarks read it; the single-buffer overload is not counted.
    /// </summary>
    public long SendCount { get; private set; }

    /// <summary>
    /// Writes <paramref name="buffers"/> completely with one gather write (a request head with its body, or chunk
    /// headers around body bytes), so no part waits on the peer's delayed ACK. The task ends when the socket took
    /// every byte (backpressure); the list is emptied and no buffer is referenced afterwards. Nothing is allocated
    /// per call: the socket operation is reused. <paramref name="cancellationToken"/> is checked before the send only.
    /// </summary>
    public ValueTask SendAsync(List<ArraySegment<byte>> buffers, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        _sender ??= new GatherSender();
        if (buffers.Count == 0)
        {
            return default;
        }

        // The usual case, the socket takes everything at once, is not an async method: no state machine per send. A
        // failure, even one the socket throws at once (a disposed socket), comes through the task.
        SendCount++;
        ValueTask<int> send;
        try
        {
            send = _sender.SendAsync(_socket, buffers);
        }
#pragma warning disable CA1031 // Handed on through the task, as an async method would.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _reusable = false;
            buffers.Clear();
            return ValueTask.FromException(ex);
        }

        if (send.IsCompletedSuccessfully)
        {
            RemoveSent(buffers, send.Result);
            if (buffers.Count == 0)
            {
                return default;
            }

            return SendRestAsync(buffers, default, pending: false);
        }

        return SendRestAsync(buffers, send, pending: true);
    }

    /// <summary>Goes on with a gather write: awaits <paramref name="first"/> when it is <paramref name="pending"/>, then sends what is left.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendRestAsync(List<ArraySegment<byte>> buffers, ValueTask<int> first, bool pending)
    {
        try
        {
            if (pending)
            {
                RemoveSent(buffers, await first.ConfigureAwait(false));
            }

            while (buffers.Count > 0)
            {
                SendCount++;
                var sent = await _sender!.SendAsync(_socket, buffers).ConfigureAwait(false);
                RemoveSent(buffers, sent);
            }
        }
        catch
        {
            _reusable = false;
            buffers.Clear();
            throw;
        }
    }

    /// <summary>Reads the reply to the request just sent.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<RuntimeApiReply> ReadReplyAsync(CancellationToken cancellationToken)
    {
        try
        {
            var reply = await HttpReplyParser.ReadAsync(_reader, cancellationToken).ConfigureAwait(false);
            _reusable &= reply.KeepAlive;
            return reply;
        }
        catch
        {
            _reusable = false;
            throw;
        }
    }

    /// <summary>Reads the reply to <c>GET /next</c> into the loop's reused <paramref name="invocation"/>; returns its status code.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReadInvocationAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        try
        {
            var head = await HttpReplyParser.ReadInvocationAsync(_reader, invocation, cancellationToken).ConfigureAwait(false);
            _reusable &= head.KeepAlive;
            return head.StatusCode;
        }
        catch
        {
            _reusable = false;
            throw;
        }
    }

    /// <summary>
    /// After a send failed: the reply the peer sent before it closed the connection without taking the whole request
    /// (an early 410 or 413), or <see langword="null"/> when there is none. The connection is not reused either way.
    /// </summary>
    public async ValueTask<RuntimeApiReply?> TryReadEarlyReplyAsync(CancellationToken cancellationToken)
    {
        _reusable = false;
        try
        {
            return await HttpReplyParser.ReadAsync(_reader, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>Marks the connection as not reusable (after a failed request).</summary>
    public void Invalidate() => _reusable = false;

    /// <summary>
    /// Shuts the connection down in both directions (a request abandoned half-way): it is not reused, a send in flight
    /// fails at once, and the peer sees the request end. <see cref="DisposeAsync"/> still releases it.
    /// </summary>
    public void Close()
    {
        _reusable = false;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Closed already.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _reader.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _sender?.Dispose();
    }

    /// <summary>Drops what a (possibly partial) gather write sent from the front of <paramref name="buffers"/>.</summary>
    private static void RemoveSent(List<ArraySegment<byte>> buffers, int sent)
    {
        var done = 0;
        while (done < buffers.Count && sent >= buffers[done].Count)
        {
            sent -= buffers[done].Count;
            done++;
        }

        buffers.RemoveRange(0, done);
        if (sent > 0)
        {
            buffers[0] = buffers[0][sent..];
        }
    }
}
