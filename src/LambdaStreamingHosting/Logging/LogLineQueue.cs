using System.Buffers;

namespace LambdaStreamingHosting.Logging;

/// <summary>
/// Log lines on their way to standard output: callers copy each whole line into a bounded ring of bytes (never waiting
/// for the output), and one background thread writes what is queued with as few writes as possible, so lines are never
/// split or interleaved. The ring starts at 64 KiB and grows up to <see cref="MaxCapacity"/> (1 MiB) while the output
/// lags; a line that does not fit then is dropped and counted, and a notice with the count is queued once there is
/// room again. <see cref="Flush"/> waits until every line queued before it was written; after
/// <see cref="Dispose"/> (which drains the queue) lines are written at once by the caller.
/// </summary>
internal sealed class LogLineQueue : IDisposable
{
    public const int InitialCapacity = 64 * 1024;
    public const int MaxCapacity = 1024 * 1024;

    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(2);
    private readonly object _gate = new();
    private readonly Stream _output;
    private readonly int _maxCapacity;
    private readonly Action<long, IBufferWriter<byte>>? _writeDropNotice;
    private readonly Func<object>? _outputLock;
    private readonly Thread _writer;
    private byte[] _ring;

    // Positions in the stream of queued bytes since the start: _head bytes were written out, _tail bytes were queued.
    private long _head;
    private long _tail;
    private long _dropped;
    private bool _writerWaiting;
    private int _flushWaiters;
    private bool _stopping;
    private bool _stopped;

    /// <param name="output">Where lines go (standard output).</param>
    /// <param name="writeDropNotice">Writes the line that says how many lines were dropped; none when null.</param>
    /// <param name="maxCapacity">The most bytes queued at once: a power of two, at least <see cref="InitialCapacity"/>.</param>
    /// <param name="outputLock">
    /// The lock other writers of the same output hold while they write (<see cref="Console.Out"/>'s, for standard
    /// output), held for each write so that none of their lines lands between the parts of one the output takes in
    /// parts (a full pipe does); none when null.
    /// </param>
    public LogLineQueue(Stream output, Action<long, IBufferWriter<byte>>? writeDropNotice, int maxCapacity = MaxCapacity, Func<object>? outputLock = null)
    {
        _output = output;
        _writeDropNotice = writeDropNotice;
        _outputLock = outputLock;
        _maxCapacity = maxCapacity;
        _ring = new byte[Math.Min(InitialCapacity, maxCapacity)];
        _writer = new Thread(WriteLines) { IsBackground = true, Name = "Lambda log writer" };
        _writer.Start();
    }

    /// <summary>Lines dropped so far because the queue was full (for tests).</summary>
    internal long DroppedTotal { get; private set; }

    /// <summary>Queues one line (it must end with its line feed); drops it when the queue is full.</summary>
    public void Enqueue(ReadOnlySpan<byte> line)
    {
        lock (_gate)
        {
            if (_stopped)
            {
                // After Dispose: nothing is lost, and nothing waits behind this line.
                WriteOut(line);
                return;
            }

            if (!TryAppend(line))
            {
                _dropped++;
                DroppedTotal++;
            }
        }
    }

    /// <summary>
    /// Waits until every line queued before this call was handed to the output, at most <paramref name="timeout"/>;
    /// returns whether it was.
    /// </summary>
    public bool Flush(TimeSpan timeout)
    {
        if (Volatile.Read(ref _head) == Volatile.Read(ref _tail))
        {
            return true;
        }

        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_gate)
        {
            var target = _tail;
            _flushWaiters++;
            try
            {
                while (_head < target && !_stopped)
                {
                    var remaining = deadline - Environment.TickCount64;
                    if (remaining <= 0)
                    {
                        return false;
                    }

                    Monitor.Wait(_gate, (int)Math.Min(remaining, int.MaxValue));
                }

                return true;
            }
            finally
            {
                _flushWaiters--;
            }
        }
    }

    /// <summary>Writes out what is queued (waiting at most 2 s), then stops the writer thread.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            _stopping = true;
            Monitor.PulseAll(_gate);
        }

        // A writer stuck on a blocked output keeps its lines; everything else was written when this returns.
        _writer.Join(DrainTimeout);
    }

    private bool TryAppend(ReadOnlySpan<byte> line)
    {
        var queued = _tail - _head;
        if (line.Length > _ring.Length - queued && !TryGrow(queued + line.Length))
        {
            return false;
        }

        var mask = _ring.Length - 1;
        var start = (int)(_tail & mask);
        var first = Math.Min(line.Length, _ring.Length - start);
        line[..first].CopyTo(_ring.AsSpan(start));
        line[first..].CopyTo(_ring);
        _tail += line.Length;
        if (_writerWaiting)
        {
            Monitor.PulseAll(_gate);
        }

        return true;
    }

    /// <summary>Doubles the ring until <paramref name="needed"/> bytes fit, up to the maximum; the queued bytes move along.</summary>
    private bool TryGrow(long needed)
    {
        if (needed > _maxCapacity)
        {
            return false;
        }

        var capacity = _ring.Length;
        while (capacity < needed)
        {
            capacity *= 2;
        }

        // The writer may be writing from the old ring right now: it keeps its reference, and the bytes it reads stay put.
        var ring = new byte[capacity];
        for (var position = _head; position < _tail;)
        {
            var from = (int)(position & (_ring.Length - 1));
            var to = (int)(position & (capacity - 1));
            var count = (int)Math.Min(_tail - position, Math.Min(_ring.Length - from, capacity - to));
            _ring.AsSpan(from, count).CopyTo(ring.AsSpan(to));
            position += count;
        }

        _ring = ring;
        return true;
    }

    private void WriteLines()
    {
        while (true)
        {
            byte[] ring;
            int offset;
            int count;
            lock (_gate)
            {
                while (_head == _tail)
                {
                    if (_stopping)
                    {
                        _stopped = true;
                        Monitor.PulseAll(_gate);
                        return;
                    }

                    _writerWaiting = true;
                    Monitor.Wait(_gate);
                    _writerWaiting = false;
                }

                ring = _ring;
                offset = (int)(_head & (ring.Length - 1));
                count = (int)Math.Min(_tail - _head, ring.Length - offset);
            }

            WriteOut(ring.AsSpan(offset, count));
            long dropped;
            lock (_gate)
            {
                _head += count;
                dropped = _dropped;
                _dropped = 0;
                if (_flushWaiters > 0)
                {
                    Monitor.PulseAll(_gate);
                }
            }

            if (dropped > 0)
            {
                QueueDropNotice(dropped);
            }
        }
    }

    private void QueueDropNotice(long dropped)
    {
        if (_writeDropNotice is null)
        {
            return;
        }

        var notice = new ArrayBufferWriter<byte>(256);
        _writeDropNotice(dropped, notice);
        lock (_gate)
        {
            if (!TryAppend(notice.WrittenSpan))
            {
                _dropped += dropped;
            }
        }
    }

    private void WriteOut(ReadOnlySpan<byte> bytes)
    {
        try
        {
            if (_outputLock?.Invoke() is { } outputLock)
            {
                lock (outputLock)
                {
                    _output.Write(bytes);
                }
            }
            else
            {
                _output.Write(bytes);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or NotSupportedException)
        {
            // Standard output is gone (closed pipe): there is nowhere left to write these lines.
        }
    }
}
