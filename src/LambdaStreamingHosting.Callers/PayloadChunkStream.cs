namespace LambdaStreamingHosting.Callers;

/// <summary>
/// A read-only stream over payload chunks as they arrive, such as the <c>PayloadChunk</c> payloads of an
/// <c>InvokeWithResponseStream</c> event stream: each read takes the next chunk only when the previous one is used up,
/// so nothing is buffered ahead of the reader and an exception from the chunks (for example a failed
/// <c>InvokeComplete</c>, rethrown by the caller's iterator) reaches the reader after every byte sent before it.
/// </summary>
/// <remarks>Give it to <see cref="LambdaHttpResponse.ReadAsync"/>. Disposing the stream disposes the chunks' enumerator.</remarks>
public sealed class PayloadChunkStream : Stream
{
    private readonly IAsyncEnumerator<ReadOnlyMemory<byte>> _chunks;
    private ReadOnlyMemory<byte> _current;
    private bool _ended;
    private bool _disposed;

    /// <summary>Creates a stream that reads <paramref name="chunks"/> in order.</summary>
    /// <param name="chunks">The payload chunks; the stream ends when they end and fails when they fail.</param>
    /// <param name="cancellationToken">Cancels waiting for the next chunk (given to the chunks' enumerator).</param>
    public PayloadChunkStream(IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        _chunks = chunks.GetAsyncEnumerator(cancellationToken);
    }

    /// <inheritdoc />
    public override bool CanRead => !_disposed;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => false;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <inheritdoc />
#pragma warning disable RS0027 // The override keeps Stream's own optional token, as every Stream does.
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
#pragma warning restore RS0027
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (buffer.IsEmpty)
        {
            return 0;
        }

        while (_current.IsEmpty)
        {
            if (_ended || !await _chunks.MoveNextAsync().ConfigureAwait(false))
            {
                _ended = true;
                return 0;
            }

            _current = _chunks.Current;
        }

        var count = Math.Min(buffer.Length, _current.Length);
        _current.Span[..count].CopyTo(buffer.Span);
        _current = _current[count..];
        return count;
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Reads synchronously, blocking while the next chunk is awaited; prefer <see cref="ReadAsync(Memory{byte}, CancellationToken)"/>.</summary>
    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count), CancellationToken.None).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            await _chunks.DisposeAsync().ConfigureAwait(false);
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _chunks.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        base.Dispose(disposing);
    }
}
