using System.Buffers;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// The bytes of the event an invocation loop is serving, written by the <c>/next</c> reply parser and reused from one
/// invocation to the next. Policy: an event of up to <see cref="RetainedSize"/> bytes goes into an array rented from
/// <see cref="ArrayPool{T}.Shared"/> that the loop keeps; a larger event gets an array of its own that
/// <see cref="Clear"/> lets go when the invocation is over, so one 6 MB event does not hold 6 MB for the life of the
/// process (nor park it in the shared pool).
/// </summary>
internal sealed class EventBuffer : IBufferWriter<byte>, IDisposable
{
    /// <summary>The largest buffer kept between invocations (and the largest taken from the shared pool).</summary>
    public const int RetainedSize = 64 * 1024;

    private const int MinimumSize = 4 * 1024;
    private byte[] _array = [];
    private int _length;

    /// <summary>The bytes written since the last <see cref="Clear"/>.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _array.AsMemory(0, _length);

    /// <summary>The size of the array held now (what stays allocated between invocations).</summary>
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

    /// <summary>Forgets the bytes written; an array larger than <see cref="RetainedSize"/> is let go.</summary>
    public void Clear()
    {
        _length = 0;
        if (_array.Length > RetainedSize)
        {
            _array = [];
        }
    }

    public void Dispose()
    {
        _length = 0;
        Release(_array);
        _array = [];
    }

    private static bool IsRented(byte[] array) => array.Length is > 0 and <= RetainedSize;

    private static void Release(byte[] array)
    {
        if (IsRented(array))
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    private void EnsureFree(int sizeHint)
    {
        var needed = (long)_length + Math.Max(sizeHint, 1);
        if (needed <= _array.Length)
        {
            return;
        }

        var size = (int)Math.Min(Array.MaxLength, Math.Max(Math.Max(needed, MinimumSize), 2L * _array.Length));
        if (size < needed)
        {
            throw new InsufficientMemoryException($"An event of more than {Array.MaxLength} bytes cannot be buffered.");
        }

        var bigger = size <= RetainedSize ? ArrayPool<byte>.Shared.Rent(size) : GC.AllocateUninitializedArray<byte>(size);
        _array.AsSpan(0, _length).CopyTo(bigger);
        Release(_array);
        _array = bigger;
    }
}
