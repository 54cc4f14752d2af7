using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// <c>Request.Body</c>: the event's decoded body, read once from start to end. Not seekable, as on Kestrel, so code
/// that must read the body twice calls <c>Request.EnableBuffering()</c> both locally and inside Lambda. A
/// <see cref="MaxSize"/> below the body's size fails every read with a 413 <see cref="BadHttpRequestException"/>.
/// Synchronous reads throw unless <c>AllowSynchronousIO</c> is set, as on Kestrel, so an app that works here works there.
/// Once <see cref="End"/>ed (its invocation is over), every read throws <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed class RequestBodyStream : Stream
{
    private int _length;
    private ReadOnlyMemory<byte> _remaining;
    private long? _maxSize;
    private IHttpBodyControlFeature? _bodyControl;
    private bool _ended;

    /// <summary>
    /// Readies the stream for the body of the next request (the stream is reused from one invocation to the next).
    /// </summary>
    public void Reset(ReadOnlyMemory<byte> body, IHttpBodyControlFeature? bodyControl)
    {
        _bodyControl = bodyControl;
        _remaining = body;
        _length = body.Length;
        _maxSize = null;
        ReadStarted = false;
    }

    /// <summary>The invocation is over: no event bytes stay referenced, and the stream waits for the next <see cref="Reset"/>.</summary>
    public void Release() => Reset(default, bodyControl: null);

    /// <summary>
    /// The invocation this stream was handed out for is over, and the app kept it: reads throw from now on, and the
    /// loop replaces it (a stream that was never handed out is only <see cref="Release"/>d).
    /// </summary>
    public void End()
    {
        _ended = true;
        _remaining = default;
        _bodyControl = null;
    }

    /// <summary>Whether the app started reading: from then on <see cref="MaxSize"/> is fixed, as on Kestrel.</summary>
    public bool ReadStarted { get; private set; }

    /// <summary>
    /// The largest body the app accepts; <see langword="null"/> (the default) for no limit beyond Lambda's own
    /// (an event is at most 6 MB, below Kestrel's 30 MB default).
    /// </summary>
    public long? MaxSize
    {
        get => _maxSize;
        set
        {
            if (ReadStarted)
            {
                throw new InvalidOperationException("The maximum request body size cannot be modified after the app has already started reading from the request body.");
            }

            if (value is < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The maximum request body size cannot be negative.");
            }

            _maxSize = value;
        }
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(Span<byte> buffer)
    {
        if (_bodyControl is { AllowSynchronousIO: false })
        {
            throw new InvalidOperationException("Synchronous operations are disallowed. Call ReadAsync or set AllowSynchronousIO to true instead.");
        }

        return ReadCore(buffer);
    }

    private int ReadCore(Span<byte> buffer)
    {
        StartReading();
        var count = Math.Min(buffer.Length, _remaining.Length);
        _remaining.Span[..count].CopyTo(buffer);
        _remaining = _remaining[count..];
        return count;
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return Read(buffer.AsSpan(offset, count));
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled<int>(cancellationToken) : new(ReadCore(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public override async Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        StartReading();
        var rest = _remaining;
        _remaining = ReadOnlyMemory<byte>.Empty;
        await destination.WriteAsync(rest, cancellationToken).ConfigureAwait(false);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private void StartReading()
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        ReadStarted = true;
        if (_length > _maxSize)
        {
            throw new BadHttpRequestException(
                string.Create(CultureInfo.InvariantCulture, $"Request body too large. The max request body size is {_maxSize} bytes."),
                StatusCodes.Status413PayloadTooLarge);
        }
    }
}
