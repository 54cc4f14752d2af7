using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// One reusable socket gather write: <see cref="Socket.SendAsync(SocketAsyncEventArgs)"/> with a buffer list,
/// awaited as a <see cref="ValueTask{TResult}"/> without allocating (the <c>Task</c>-returning
/// <c>Socket.SendAsync(IList&lt;ArraySegment&lt;byte&gt;&gt;, SocketFlags)</c> allocates a task per call). One send at
/// a time; the buffer list is released when the send completed.
/// </summary>
internal sealed class GatherSender : SocketAsyncEventArgs, IValueTaskSource<int>
{
    private ManualResetValueTaskSourceCore<int> _completion;

    public GatherSender()
        : base(unsafeSuppressExecutionContextFlow: true)
    {
    }

    /// <summary>Sends <paramref name="buffers"/>; the result is the number of bytes the socket took.</summary>
    public ValueTask<int> SendAsync(Socket socket, IList<ArraySegment<byte>> buffers)
    {
        _completion.Reset();
        BufferList = buffers;
        if (socket.SendAsync(this))
        {
            return new ValueTask<int>(this, _completion.Version);
        }

        var (sent, error) = (BytesTransferred, SocketError);
        BufferList = null;
        return error == SocketError.Success ? new ValueTask<int>(sent) : ValueTask.FromException<int>(new SocketException((int)error));
    }

    int IValueTaskSource<int>.GetResult(short token) => _completion.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _completion.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _completion.OnCompleted(continuation, state, token, flags);

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        var (sent, error) = (BytesTransferred, SocketError);
        BufferList = null;
        if (error == SocketError.Success)
        {
            _completion.SetResult(sent);
        }
        else
        {
            _completion.SetException(new SocketException((int)error));
        }
    }
}
