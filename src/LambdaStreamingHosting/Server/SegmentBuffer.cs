using System.Buffers;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// Response bytes held in pooled arrays until they are sent. Each segment keeps free room before and after its data
/// so the streaming writer can frame it as an HTTP chunk in place. Arrays go back to the pool on
/// <see cref="Clear"/> (all but the first, which is kept for the next writes) and on <see cref="Dispose"/>; segment
/// objects are recycled, so steady writing allocates nothing.
/// </summary>
internal sealed class SegmentBuffer : IBufferWriter<byte>, IDisposable
{
    private readonly int _segmentSize;
    private readonly int _headroom;
    private readonly int _tailroom;
    private Segment? _first;
    private Segment? _last;
    private Segment? _free;

    /// <param name="segmentSize">Bytes rented per segment, room included.</param>
    /// <param name="headroom">Free bytes kept before the data of each segment.</param>
    /// <param name="tailroom">Free bytes kept after the data of each segment.</param>
    public SegmentBuffer(int segmentSize, int headroom = 0, int tailroom = 0)
    {
        _segmentSize = segmentSize;
        _headroom = headroom;
        _tailroom = tailroom;
    }

    /// <summary>Bytes written and not cleared.</summary>
    public long Length { get; private set; }

    /// <summary>The data capacity of one regular segment.</summary>
    public int SegmentCapacity => _segmentSize - _headroom - _tailroom;

    /// <summary>The first segment holding data, or <see langword="null"/>; follow <see cref="Segment.NextSegment"/>.</summary>
    public Segment? First => Length == 0 ? null : _first;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureRoom(Math.Max(sizeHint, 1));
        return _last!.Array.AsMemory(_last.DataOffset + _last.Count, _last.FreeBytes);
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
            _first.Reset(ArrayPool<byte>.Shared.Rent(Math.Max(_segmentSize, sizeHint + _headroom + _tailroom)), _headroom, _tailroom);
            return;
        }

        var segment = _free ?? new Segment();
        _free = segment.NextSegment;
        segment.NextSegment = null;
        segment.Reset(ArrayPool<byte>.Shared.Rent(Math.Max(_segmentSize, sizeHint + _headroom + _tailroom)), _headroom, _tailroom);
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
            segment.Reset([], 0, 0);
            segment.NextSegment = _free;
            _free = segment;
            segment = next;
        }
    }

    /// <summary>One pooled array: free room, <see cref="Count"/> bytes of data at <see cref="DataOffset"/>, free room.</summary>
    internal sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        private int _tailroom;

        public byte[] Array { get; private set; } = [];

        public int DataOffset { get; private set; }

        public int Count { get; set; }

        public Segment? NextSegment { get; set; }

        public int FreeBytes => Array.Length - _tailroom - DataOffset - Count;

        public void Reset(byte[] array, int headroom, int tailroom)
        {
            Array = array;
            DataOffset = headroom;
            _tailroom = tailroom;
            Count = 0;
        }

        /// <summary>Publishes the data as a <see cref="ReadOnlySequenceSegment{T}"/> node.</summary>
        public void Seal(long runningIndex)
        {
            Memory = Array.AsMemory(DataOffset, Count);
            RunningIndex = runningIndex;
            Next = NextSegment;
        }
    }
}
