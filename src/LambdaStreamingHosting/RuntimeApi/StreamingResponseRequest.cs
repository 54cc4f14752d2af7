using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// A streamed <c>POST /runtime/invocation/{id}/response</c> in flight: hand-framed HTTP/1.1 chunks with the error
/// trailers declared. Its <see cref="Body"/> is the send queue the response body is written to: the request head and
/// the prelude go out with the first commit, and every commit goes on the wire at once, or with the next send while one
/// is in flight (see <see cref="SendQueue"/>). After the last chunk, <see cref="ReadReplyAsync"/> reads the reply and
/// gives the connection back to the client.
/// </summary>
internal sealed class StreamingResponseRequest
{
    private readonly RuntimeApiClient _client;
    private RuntimeApiConnection _connection = null!;
    private long _sendCountBefore;
    private bool _released = true;

    /// <summary>A request object for <paramref name="client"/>, reused for one streamed answer after another (see <see cref="Begin"/>).</summary>
    public StreamingResponseRequest(RuntimeApiClient client) => _client = client;

    /// <summary>The invocation being answered.</summary>
    public string RequestId { get; private set; } = "";

    /// <summary>Whether the previous request let its connection go, so this object can carry the next one.</summary>
    public bool IsReleased => _released;

    /// <summary>The request's body: what is written there goes to the Runtime API as chunks.</summary>
    public SendQueue Body { get; } = new();

    /// <summary>
    /// Starts the request for invocation <paramref name="requestId"/> on <paramref name="connection"/> (the previous one
    /// was released). Nothing is sent yet: <paramref name="head"/> leads the body's first send.
    /// </summary>
    public StreamingResponseRequest Begin(RuntimeApiConnection connection, string requestId, ArraySegment<byte> head)
    {
        if (!_released)
        {
            throw new InvalidOperationException("The previous streamed /response still holds its connection.");
        }

        _released = false;
        _connection = connection;
        RequestId = requestId;
        _sendCountBefore = connection.SendCount;
        Body.Begin(connection, head);
        return this;
    }

    /// <summary>Whether a send failed: the Runtime API connection is gone and no reply will come.</summary>
    public bool Broken => Body.Failure is not null;

    /// <summary>Socket sends this request made so far (the request head goes with the first).</summary>
    public long SendCount => _connection.SendCount - _sendCountBefore;

    /// <summary>
    /// Ends the body with the error trailers after what was written, so Lambda records the invocation as failed;
    /// completes as <see cref="SendQueue.FlushAsync"/>.
    /// </summary>
    public ValueTask EndWithErrorAsync(LambdaError error)
    {
        var output = new ArrayBufferWriter<byte>(512);
        ChunkFraming.WriteErrorEnd(output, error.ErrorType, error.ToJson());
        return Body.EndWithErrorAsync(new ArraySegment<byte>(output.WrittenSpan.ToArray()));
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
        if (!Body.NothingSent)
        {
            throw new InvalidOperationException("The streamed response already started; end it with the error trailers instead.");
        }

        await ReleaseAsync().ConfigureAwait(false);
        return await _client.PostErrorAsync(RequestId, error, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Gives up on the request without reading a reply and releases the connection, which stays reusable only when
    /// nothing was sent on it. Only when no send is in flight.
    /// </summary>
    public ValueTask AbandonAsync()
    {
        if (!Body.NothingSent)
        {
            _connection.Invalidate();
        }

        return ReleaseAsync();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReleaseAsync()
    {
        if (!_released)
        {
            _released = true;
            Body.Reset(); // pooled arrays back, and an unsent head
            await _client.ReleaseAsync(_connection).ConfigureAwait(false);
        }
    }
}
