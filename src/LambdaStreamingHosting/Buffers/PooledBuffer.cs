using System.Buffers;

namespace LambdaStreamingHosting.Buffers;

/// <summary>
/// The one buffer kind the server reuses from one invocation to the next: contiguous bytes written through
/// <see cref="IBufferWriter{T}"/> (an event read from <c>/next</c>, a streamed answer's prelude, a buffered answer's
/// body and its JSON document, a log line). An array of up to <see cref="RetainedSize"/> bytes is rented from
/// <see cref="ArrayPool{T}.Shared"/> and kept by its owner between uses; a larger one is allocated for the use that
/// needs it and let go by <see cref="Release"/>, so one 6 MB event or answer neither stays allocated for the life of
/// the process nor parks in the shared pool.
/// </summary>
internal sealed class PooledBuffer : IBufferWriter<byte>, IDisposable
{
    /// <summary>The default of <see cref="RetainedSize"/>.</summary>
    public const int DefaultRetainedSize = 64 * 1024;

    private readonly int _minimumSize;
    private byte[] _array = [];
    private bool _rented;
    private int _length;

    /// <param name="minimumSize">The size of the first array rented.</param>
    /// <param name="retainedSize">The largest array kept between uses (and the largest taken from the shared pool).</param>
    public PooledBuffer(int minimumSize = 4 * 1024, int retainedSize = DefaultRetainedSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(minimumSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(retainedSize, minimumSize);
        _minimumSize = minimumSize;
        RetainedSize = retainedSize;
    }

    /// <summary>The largest array kept between uses (and the largest taken from the shared pool).</summary>
    public int RetainedSize { get; }

    /// <summary>The bytes written since the last <see cref="Clear"/> or <see cref="Release"/>.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _array.AsMemory(0, _length);

    /// <summary>The bytes written since the last <see cref="Clear"/> or <see cref="Release"/>.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _array.AsSpan(0, _length);

    /// <summary>How many bytes were written.</summary>
    public int Length => _length;

    /// <summary>The size of the array held now (what stays allocated between uses).</summary>
    public int Capacity => _array.Length;

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _array.Length - _length);
        _length += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureFree(sizeHint);
        return _array.AsMemory(_length);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        EnsureFree(sizeHint);
        return _array.AsSpan(_length);
    }

    /// <summary>Forgets the bytes written and keeps the array, whatever its size (the same use writes again).</summary>
    public void Clear() => _length = 0;

    /// <summary>The use is over: the bytes written are forgotten, and an array larger than <see cref="RetainedSize"/> is let go.</summary>
    public void Release()
    {
        _length = 0;
        if (_array.Length > RetainedSize)
        {
            Return();
        }
    }

    /// <summary>The owner is done: a rented array goes back to the shared pool.</summary>
    public void Dispose()
    {
        _length = 0;
        Return();
    }

    /// <summary>Lets the array go: back to the shared pool when it came from there.</summary>
    private void Return()
    {
        if (_rented)
        {
            ArrayPool<byte>.Shared.Return(_array);
        }

        _array = [];
        _rented = false;
    }

    private void EnsureFree(int sizeHint)
    {
        var needed = (long)_length + Math.Max(sizeHint, 1);
        if (needed <= _array.Length)
        {
            return;
        }

        var size = (int)Math.Min(Array.MaxLength, Math.Max(Math.Max(needed, _minimumSize), 2L * _array.Length));
        if (size < needed)
        {
            throw new InsufficientMemoryException($"More than {Array.MaxLength} bytes cannot be buffered.");
        }

        var rent = size <= RetainedSize;
        var bigger = rent ? ArrayPool<byte>.Shared.Rent(size) : GC.AllocateUninitializedArray<byte>(size);
        _array.AsSpan(0, _length).CopyTo(bigger);
        Return();
        _array = bigger;
        _rented = rent;
    }
}
