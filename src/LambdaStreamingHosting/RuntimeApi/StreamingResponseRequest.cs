using System.Buffers;
using LambdaStreamingHosting.Server;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// A streamed <c>POST /runtime/invocation/{id}/response</c> in flight: the connection it holds and its
/// <see cref="Body"/>, the send queue the response body is written to (hand-framed HTTP/1.1 chunks, the error trailers
/// declared). The request head and the prelude go out with the first commit, and every commit goes on the wire at once,
/// or with the next send while one is in flight (see <see cref="SendQueue"/>). It knows nothing of the client that
/// made it: <see cref="RuntimeApiClient"/> begins it, reads its reply and takes its connection back.
/// </summary>
internal sealed class StreamingResponseRequest
{
    private RuntimeApiConnection? _connection;
    private long _sendCountBefore;
    private long _sendsBeforeRelease;

    /// <summary>The invocation being answered.</summary>
    public string RequestId { get; private set; } = "";

    /// <summary>The delivery's <c>Lambda-Runtime-Invocation-Id</c> the request carries (null when <c>/next</c> sent none).</summary>
    public string? InvocationId { get; private set; }

    /// <summary>Whether the request let its connection go, so this object can carry the next one.</summary>
    public bool IsReleased => _connection is null;

    /// <summary>The request's body: what is written there goes to the Runtime API as chunks.</summary>
    public SendQueue Body { get; } = new();

    /// <summary>
    /// The response this request carries: its send queue reports the first bytes sent and a broken connection there,
    /// and the client reads from there whether anything was sent (the request keeps no answer of its own).
    /// </summary>
    public ResponseState State { get; private set; } = null!;

    /// <summary>Socket sends this request made so far (the request head goes with the first); after the release, all it made.</summary>
    public long SendCount => _connection is { } connection ? connection.SendCount - _sendCountBefore : _sendsBeforeRelease;

    /// <summary>The connection the request holds until it is released.</summary>
    internal RuntimeApiConnection Connection =>
        _connection ?? throw new InvalidOperationException("The streamed /response has released its connection.");

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

    /// <summary>
    /// Readies this (released) object for the request answering invocation <paramref name="requestId"/> on
    /// <paramref name="connection"/>, reporting into <paramref name="state"/>. Nothing is sent yet: <paramref name="head"/>,
    /// rented from <see cref="ArrayPool{T}.Shared"/>, leads the body's first send; <paramref name="maxUnsentBytes"/> and
    /// <paramref name="broken"/> go to the body (see <see cref="SendQueue.Reset"/>).
    /// </summary>
    internal void Reset(RuntimeApiConnection connection, string requestId, string? invocationId, ArraySegment<byte> head, ResponseState state, long? maxUnsentBytes, Action<Exception>? broken)
    {
        if (_connection is not null)
        {
            throw new InvalidOperationException("The previous streamed /response still holds its connection.");
        }

        _connection = connection;
        RequestId = requestId;
        InvocationId = invocationId;
        State = state;
        _sendCountBefore = connection.SendCount;
        Body.Reset(connection, head, state, maxUnsentBytes, broken);
    }

    /// <summary>
    /// The request is over: lets the connection go (handed back to the caller) and releases the body; <see langword="null"/>
    /// when it was released already. Only when no send is in flight.
    /// </summary>
    internal RuntimeApiConnection? Release()
    {
        var connection = _connection;
        if (connection is not null)
        {
            _sendsBeforeRelease = connection.SendCount - _sendCountBefore;
            _connection = null;
            Body.Release(); // pooled arrays back, and an unsent head
        }

        return connection;
    }
}
