namespace LambdaStreamingHosting.Server;

/// <summary>
/// <c>Response.Body</c>: writes gather in the response's buffer and go out when it fills or on
/// <see cref="FlushAsync"/>. Synchronous writes and flushes throw unless <c>AllowSynchronousIO</c> is set, as on Kestrel.
/// </summary>
internal sealed class ResponseBodyStream : Stream
{
    private readonly ResponseBodyFeature _body;

    public ResponseBodyStream(ResponseBodyFeature body) => _body = body;

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
        _body.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _body.WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async Task FlushAsync(CancellationToken cancellationToken) => await _body.FlushAsync(cancellationToken).ConfigureAwait(false);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ThrowIfSynchronousIODisallowed();
        _body.Write(buffer);
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush()
    {
        ThrowIfSynchronousIODisallowed();
        _body.Flush();
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void ThrowIfSynchronousIODisallowed()
    {
        if (!_body.AllowSynchronousIO)
        {
            throw new InvalidOperationException("Synchronous operations are disallowed. Call WriteAsync or set AllowSynchronousIO to true instead.");
        }
    }
}
