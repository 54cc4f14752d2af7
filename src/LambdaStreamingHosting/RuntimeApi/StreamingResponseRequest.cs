using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// A streamed <c>POST /runtime/invocation/{id}/response</c> in flight: hand-framed HTTP/1.1 chunks with the error
/// trailers declared. The request head goes out with the first chunk; each send ends when the socket accepted the
/// bytes, so a slow reader slows the writer. After the last chunk, <see cref="ReadReplyAsync"/> reads the reply and
/// gives the connection back to the client.
/// </summary>
internal sealed class StreamingResponseRequest
{
    private readonly RuntimeApiClient _client;
    private RuntimeApiConnection _connection = null!;
    private long _sendCountBefore;
    // The request head, rented from the array pool (see RuntimeApiClient.RentHead); returned once sent or released.
    private ArraySegment<byte>? _head;
    // The chunk-size line of a chunk whose data is sent as it is (a large write), reused.
    private byte[]? _chunkHeader;
    private bool _released = true;

    /// <summary>A request object for <paramref name="client"/>, reused for one streamed answer after another (see <see cref="Begin"/>).</summary>
    public StreamingResponseRequest(RuntimeApiClient client) => _client = client;

    /// <summary>The invocation being answered.</summary>
    public string RequestId { get; private set; } = "";

    /// <summary>Whether the previous request let its connection go, so this object can carry the next one.</summary>
    public bool IsReleased => _released;

    /// <summary>Starts the request for invocation <paramref name="requestId"/> on <paramref name="connection"/> (the previous one was released).</summary>
    public StreamingResponseRequest Begin(RuntimeApiConnection connection, string requestId, ArraySegment<byte> head)
    {
        if (!_released)
        {
            throw new InvalidOperationException("The previous streamed /response still holds its connection.");
        }

        _released = false;
        _connection = connection;
        RequestId = requestId;
        _head = head;
        _sendCountBefore = connection.SendCount;
        Ended = false;
        Broken = false;
        return this;
    }

    /// <summary>Whether the last chunk was sent (cleanly or with error trailers).</summary>
    public bool Ended { get; private set; }

    /// <summary>Whether a send failed: the Runtime API connection is gone and no reply will come.</summary>
    public bool Broken { get; private set; }

    /// <summary>Socket sends this request made so far (the request head goes with the first).</summary>
    public long SendCount => _connection.SendCount - _sendCountBefore;

    /// <summary>
    /// Sends chunks with one write. The ranges of <paramref name="chunks"/> before <paramref name="joinFrom"/> are each
    /// framed in place as one chunk (see <see cref="ChunkFraming"/> for the room they need around their data); the
    /// ranges from <paramref name="joinFrom"/> on are the data of one more chunk, sent as they are (not copied, no room
    /// needed) between a chunk header and CRLF of our own. With <paramref name="end"/> the last chunk follows in the
    /// same write. The list is changed; no range is referenced once the task completed.
    /// </summary>
    public ValueTask SendChunksAsync(List<ArraySegment<byte>> chunks, int joinFrom, bool end)
    {
        long joined = 0;
        for (var i = joinFrom; i < chunks.Count; i++)
        {
            joined += chunks[i].Count;
        }

        for (var i = 0; i < joinFrom; i++)
        {
            var data = chunks[i];
            var (offset, length) = ChunkFraming.FrameInPlace(data.Array, data.Offset, data.Count, end && joined == 0 && i == joinFrom - 1);
            chunks[i] = new ArraySegment<byte>(data.Array!, offset, length);
        }

        if (joined > 0)
        {
            _chunkHeader ??= new byte[ChunkFraming.MaxHeaderLength];
            chunks.Insert(joinFrom, new ArraySegment<byte>(_chunkHeader, 0, ChunkFraming.WriteHeader(_chunkHeader, joined)));
            chunks.Add(end ? DataEndAndEndBytes : DataEndBytes);
        }
        else
        {
            chunks.RemoveRange(joinFrom, chunks.Count - joinFrom);
            if (end && joinFrom == 0)
            {
                chunks.Add(EndBytes);
            }
        }

        Ended |= end;
        return SendAsync(chunks);
    }

    /// <summary>Ends the body with the error trailers, so Lambda records the invocation as failed.</summary>
    public async ValueTask EndWithErrorAsync(LambdaError error)
    {
        Ended = true;
        var output = new ArrayBufferWriter<byte>(512);
        ChunkFraming.WriteErrorEnd(output, error.ErrorType, error.ToJson());
        await SendAsync([new ArraySegment<byte>(output.WrittenSpan.ToArray())]).ConfigureAwait(false);
    }

    /// <summary>Reads the Runtime API's reply to the finished request and releases the connection.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<RuntimeApiReply> ReadReplyAsync(CancellationToken cancellationToken)
    {
        try
        {
            var reply = await _connection.ReadReplyAsync(cancellationToken).ConfigureAwait(false);
            return RuntimeApiClient.ThrowIfFatal(reply, "the streamed /response");
        }
        catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException)
        {
            throw new RuntimeApiFatalException($"Reading the reply to a streamed /response from {_client.Endpoint} failed: {ex.Message}", ex);
        }
        finally
        {
            await ReleaseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After a send failed: the reply the Runtime API sent before it closed the connection (413, 410), or
    /// <see langword="null"/>; releases the connection.
    /// </summary>
    public async Task<RuntimeApiReply?> ReadEarlyReplyAsync(CancellationToken cancellationToken)
    {
        try
        {
            var reply = await _connection.TryReadEarlyReplyAsync(cancellationToken).ConfigureAwait(false);
            return reply is { } early ? RuntimeApiClient.ThrowIfFatal(early, "the streamed /response") : null;
        }
        finally
        {
            await ReleaseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Answers the invocation with <c>/error</c> instead, which is only possible while nothing of the stream was sent.
    /// </summary>
    public async Task<RuntimeApiReply> FailBeforeStartAsync(LambdaError error, CancellationToken cancellationToken)
    {
        if (_head is null)
        {
            throw new InvalidOperationException("The streamed response already started; end it with the error trailers instead.");
        }

        Ended = true;
        await ReleaseAsync().ConfigureAwait(false);
        return await _client.PostErrorAsync(RequestId, error, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Gives up on the request without reading a reply and releases the connection, which stays reusable only when
    /// nothing was sent on it.
    /// </summary>
    public ValueTask AbandonAsync()
    {
        if (_head is null)
        {
            _connection.Invalidate();
        }

        return ReleaseAsync();
    }

    private static ArraySegment<byte> EndBytes { get; } = new(ChunkFraming.End.ToArray());

    private static ArraySegment<byte> DataEndBytes { get; } = new(ChunkFraming.DataEnd.ToArray());

    private static ArraySegment<byte> DataEndAndEndBytes { get; } = new(ChunkFraming.DataEndAndEnd.ToArray());

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendAsync(List<ArraySegment<byte>> framed)
    {
        var head = _head;
        if (head is { Array: not null } first)
        {
            _head = null;
            framed.Insert(0, first);
        }

        try
        {
            await _connection.SendAsync(framed, CancellationToken.None).ConfigureAwait(false);
        }
        catch
        {
            Broken = true;
            throw;
        }
        finally
        {
            if (head is { Array: not null } sent)
            {
                RuntimeApiClient.ReturnHead(sent);
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReleaseAsync()
    {
        if (!_released)
        {
            _released = true;
            if (_head is { Array: not null } unsent)
            {
                // Nothing was sent (FailBeforeStartAsync, AbandonAsync): the head goes back unused, and an empty
                // segment keeps saying that the stream never started.
                _head = default(ArraySegment<byte>);
                RuntimeApiClient.ReturnHead(unsent);
            }

            await _client.ReleaseAsync(_connection).ConfigureAwait(false);
        }
    }
}
