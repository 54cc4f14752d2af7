using System.Buffers;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// Bytes held in pooled arrays: a buffered answer's body, the prelude of a streamed one. Arrays go back to the pool on
/// <see cref="Clear"/> (all but the first, which is kept for the next writes) and on <see cref="Dispose"/>; segment
/// objects are recycled, so steady writing allocates nothing.
/// </summary>
internal sealed class SegmentBuffer : IBufferWriter<byte>, IDisposable
{
    private readonly int _segmentSize;
    private Segment? _first;
    private Segment? _last;
    private Segment? _free;

    /// <param name="segmentSize">Bytes rented per segment.</param>
    public SegmentBuffer(int segmentSize) => _segmentSize = segmentSize;

    /// <summary>Bytes written and not cleared.</summary>
    public long Length { get; private set; }

    /// <summary>The first segment holding data, or <see langword="null"/>; follow <see cref="Segment.NextSegment"/>.</summary>
    public Segment? First => Length == 0 ? null : _first;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureRoom(Math.Max(sizeHint, 1));
        return _last!.Array.AsMemory(_last.Count, _last.FreeBytes);
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public void Advance(int count)
    {
        if (count < 0 || (count > 0 && (_last is null || count > _last.FreeBytes)))
        {
            throw new ArgumentOutOfRangeException(nameof(count), "Advanced past the memory that was handed out.");
        }

        if (count > 0)
        {
            _last!.Count += count;
            Length += count;
        }
    }

    /// <summary>The data as one sequence (for the buffered answer).</summary>
    public ReadOnlySequence<byte> AsSequence()
    {
        if (First is null)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        long running = 0;
        for (var segment = _first; segment is not null; segment = segment.NextSegment)
        {
            segment.Seal(running);
            running += segment.Count;
        }

        return new ReadOnlySequence<byte>(_first!, 0, _last!, _last!.Count);
    }

    /// <summary>Forgets the data; keeps the first array for the next writes and returns the others to the pool.</summary>
    public void Clear()
    {
        var rest = _first?.NextSegment;
        if (_first is not null)
        {
            _first.Count = 0;
            _first.NextSegment = null;
        }

        _last = _first;
        Length = 0;
        Release(rest);
    }

    public void Dispose()
    {
        Release(_first);
        _first = _last = null;
        Length = 0;
    }

    private void EnsureRoom(int sizeHint)
    {
        if (_last is not null && _last.FreeBytes >= sizeHint)
        {
            return;
        }

        if (_last is not null && _last.Count == 0 && _last == _first)
        {
            // The kept first array is too small for this hint: trade it for a bigger one.
            ArrayPool<byte>.Shared.Return(_first.Array);
            _first.Reset(ArrayPool<byte>.Shared.Rent(Math.Max(_segmentSize, sizeHint)));
            return;
        }

        var segment = _free ?? new Segment();
        _free = segment.NextSegment;
        segment.NextSegment = null;
        segment.Reset(ArrayPool<byte>.Shared.Rent(Math.Max(_segmentSize, sizeHint)));
        if (_last is null)
        {
            _first = _last = segment;
        }
        else
        {
            _last.NextSegment = segment;
            _last = segment;
        }
    }

    private void Release(Segment? segment)
    {
        while (segment is not null)
        {
            var next = segment.NextSegment;
            ArrayPool<byte>.Shared.Return(segment.Array);
            segment.Reset([]);
            segment.NextSegment = _free;
            _free = segment;
            segment = next;
        }
    }

    /// <summary>One pooled array: <see cref="Count"/> bytes of data from its start, then free room.</summary>
    internal sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public byte[] Array { get; private set; } = [];

        public int Count { get; set; }

        public Segment? NextSegment { get; set; }

        public int FreeBytes => Array.Length - Count;

        public void Reset(byte[] array)
        {
            Array = array;
            Count = 0;
        }

        /// <summary>Publishes the data as a <see cref="ReadOnlySequenceSegment{T}"/> node.</summary>
        public void Seal(long runningIndex)
        {
            Memory = Array.AsMemory(0, Count);
            RunningIndex = runningIndex;
            Next = NextSegment;
        }
    }
}
