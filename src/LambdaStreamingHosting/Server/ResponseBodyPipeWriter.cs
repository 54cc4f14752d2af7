using System.IO.Pipelines;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// <c>Response.BodyWriter</c>: memory comes from the response's pooled buffer; <see cref="FlushAsync"/> starts the
/// response and sends what was written, ending when the bytes reached the socket.
/// </summary>
internal sealed class ResponseBodyPipeWriter : PipeWriter
{
    private readonly ResponseBodyFeature _body;

    public ResponseBodyPipeWriter(ResponseBodyFeature body) => _body = body;

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _body.UnflushedBytes;

    public override void Advance(int bytes) => _body.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => _body.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => _body.GetMemory(sizeHint).Span;

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => _body.FlushAsync(cancellationToken);

    public override void CancelPendingFlush()
    {
        // Flushes complete when the socket took the bytes; there is nothing pending to cancel.
    }

    public override void Complete(Exception? exception = null) => _body.CompleteWriter(exception);

    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        _body.CompleteWriter(exception);
        if (exception is null)
        {
            await _body.CompleteAsync().ConfigureAwait(false);
        }
    }
}
