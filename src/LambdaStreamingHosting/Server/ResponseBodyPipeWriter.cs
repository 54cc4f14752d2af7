using System.IO.Pipelines;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// <c>Response.BodyWriter</c>: memory comes from the response body's buffer (the send queue's pooled blocks when
/// streamed, the buffered answer's <see cref="Buffers.PooledBuffer"/>); <see cref="FlushAsync"/> starts the response and
/// sends what was written at once (with the next send while one is in flight), completing at once unless more than
/// <c>MaxResponseBufferSize</c> is unsent. Made for one invocation: used after it, every call throws
/// <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed class ResponseBodyPipeWriter : PipeWriter
{
    private readonly ResponseBodyFeature _feature;
    private readonly int _generation;

    public ResponseBodyPipeWriter(ResponseBodyFeature feature, int generation)
    {
        _feature = feature;
        _generation = generation;
    }

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => Body.UnflushedBytes;

    public override void Advance(int bytes) => Body.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => Body.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => Body.GetMemory(sizeHint).Span;

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => Body.FlushAsync(cancellationToken);

    public override void CancelPendingFlush()
    {
        // A flush waits only while more than MaxResponseBufferSize is unsent, for sends already under way: not cancelled.
    }

    public override void Complete(Exception? exception = null) => Body.CompleteWriter(exception);

    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        Body.CompleteWriter(exception);
        if (exception is null)
        {
            await Body.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The response body of this writer's invocation (throws once it is over).</summary>
    private ResponseBodyFeature Body => _feature.Of(_generation);
}
