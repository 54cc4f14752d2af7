namespace LambdaStreamingHosting.Callers;

/// <summary>
/// The body of a streamed HTTP response: the bytes read past the prelude while looking for its end, then the rest of the
/// payload, read as it arrives. Read-only, forward-only; disposing it disposes the payload.
/// </summary>
internal sealed class PayloadBodyStream(ReadOnlyMemory<byte> alreadyRead, Stream payload) : Stream
{
    private ReadOnlyMemory<byte> _alreadyRead = alreadyRead;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (TakeAlreadyRead(buffer) is var taken and > 0)
        {
            return taken;
        }

        return payload.Read(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (TakeAlreadyRead(buffer.Span) is var taken and > 0)
        {
            return ValueTask.FromResult(taken);
        }

        return payload.ReadAsync(buffer, cancellationToken);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        await payload.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            payload.Dispose();
        }

        base.Dispose(disposing);
    }

    private int TakeAlreadyRead(Span<byte> buffer)
    {
        if (_alreadyRead.IsEmpty || buffer.IsEmpty)
        {
            return 0;
        }

        var count = Math.Min(buffer.Length, _alreadyRead.Length);
        _alreadyRead.Span[..count].CopyTo(buffer);
        _alreadyRead = _alreadyRead[count..];
        return count;
    }
}
