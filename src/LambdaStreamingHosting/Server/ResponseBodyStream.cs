namespace LambdaStreamingHosting.Server;

/// <summary>
/// <c>Response.Body</c>: every write goes out at once, as on Kestrel (a write that comes while a send is in flight
/// leaves with the next send); <see cref="FlushAsync"/> sends what <c>BodyWriter</c> left unflushed. Synchronous writes and flushes throw unless <c>AllowSynchronousIO</c> is set, as on Kestrel.
/// Made for one invocation: used after it, every call throws <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed class ResponseBodyStream : Stream
{
    private readonly ResponseBodyFeature _feature;
    private readonly int _generation;

    public ResponseBodyStream(ResponseBodyFeature feature, int generation)
    {
        _feature = feature;
        _generation = generation;
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        Body.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Body.WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async Task FlushAsync(CancellationToken cancellationToken) => await Body.FlushAsync(cancellationToken).ConfigureAwait(false);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ThrowIfSynchronousIODisallowed();
        Body.Write(buffer);
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush()
    {
        ThrowIfSynchronousIODisallowed();
        Body.Flush();
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>The response body of this stream's invocation (throws once it is over).</summary>
    private ResponseBodyFeature Body => _feature.Of(_generation);

    private void ThrowIfSynchronousIODisallowed()
    {
        if (!Body.AllowSynchronousIO)
        {
            throw new InvalidOperationException("Synchronous operations are disallowed. Call WriteAsync or set AllowSynchronousIO to true instead.");
        }
    }
}
