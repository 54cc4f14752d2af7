using System.Buffers;
using System.Threading.Tasks.Sources;
using LambdaStreamingHosting.Server;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// The body of a streamed <c>/response</c> on its way to the socket: Kestrel's output pipe in small. The writer appends
/// bytes (copied into pooled blocks, or a large buffer of its own by reference) and commits them. A commit puts them on
/// the wire at once when no send is in flight; otherwise they wait for the send in flight and leave together in the
/// next one, so writes coalesce only by backpressure, never by waiting for more. Bytes written and not committed
/// (<c>GetMemory</c>/<c>Advance</c> without a flush) stay here, as in Kestrel's pipe.
/// </summary>
/// <remarks>
/// One send at a time, each one gather write: the request head and the prelude chunk before the first body bytes, then
/// everything committed as one HTTP chunk framed here (a chunk-size line of our own, the blocks' data, CRLF), then the
/// last chunk or the error trailers once committed. A commit returns at once unless more than the cap of committed
/// bytes is still unsent (a slow reader slows the writer) or the writer's borrowed buffer is part of it (it must not be
/// reused before it was sent). Sends started by a commit run on the writer's thread while the socket takes the bytes
/// at once, and continue on the socket's completion thread when it does not. The queue keeps no answer of its own to
/// "was anything sent" or "is it broken": it reports both into the response's <see cref="ResponseState"/> (the first
/// commit marks the answer sent; a failed send marks it broken) and reads them from there. Once broken nothing more is
/// sent, waiting writers are released, and the owner is told once, in the execution context of <see cref="Reset"/>
/// (so its log scope). Nothing is allocated per write or send: blocks and their arrays are pooled,
/// the socket operation and the gather list are reused, the writer's wait is this object.
/// </remarks>
internal sealed class SendQueue : IBufferWriter<byte>, IValueTaskSource
{
    /// <summary>Bytes rented per block.</summary>
    public const int BlockSize = 16 * 1024;

    private static readonly ArraySegment<byte> DataEnd = new(ChunkFraming.DataEnd.ToArray());
    private static readonly ArraySegment<byte> DataEndAndEnd = new(ChunkFraming.DataEndAndEnd.ToArray());
    private static readonly ArraySegment<byte> End = new(ChunkFraming.End.ToArray());

    private readonly Lock _gate = new();
    private readonly List<ArraySegment<byte>> _send = [];
    private readonly byte[] _chunkHeader = new byte[ChunkFraming.MaxHeaderLength];
    private readonly Action _sendCompleted;
    private ManualResetValueTaskSourceCore<bool> _writerWait = new() { RunContinuationsAsynchronously = true };

    private RuntimeApiConnection? _connection;
    private ResponseState _state = null!; // set by Reset: the response the queue reports into
    private ExecutionContext? _context;
    private Action<Exception>? _broken;
    private long _cap;

    // The request head and the prelude chunk, both rented from ArrayPool<byte>.Shared: they lead the first send.
    private ArraySegment<byte> _head;
    private ArraySegment<byte> _prelude;
    private bool _headTaken;
    private bool _preludeTaken;

    // The last chunk (clean) or the error trailers, once committed; and whether a send carried it.
    private ArraySegment<byte> _terminator;
    private bool _terminatorTaken;

    private Block? _first;
    private Block? _last;
    private Block? _free;

    // Positions in the body, in bytes since the start: written >= committed >= sent. A send takes everything committed.
    private long _written;
    private long _committed;
    private long _sent;
    private bool _sending;
    private ValueTask _inFlight;
    private long _inFlightBytes;
    private bool _inFlightHead;
    private bool _inFlightPrelude;
    private bool _inFlightTerminator;

    // The writer's wait: for the body to be sent up to a position, or for the queue to be idle.
    private bool _waiting;
    private long _waitUntilSent;
    private bool _waitUntilIdle;

    // A text/event-stream body (see TrackEvents): the clock its commits are timed on, where its written bytes end
    // relative to events, when bytes were last committed; and a keep-alive comment chunk waiting for the next send.
    private TimeProvider? _eventClock;
    private EventStreamTail _eventTail;
    private long _lastCommitTimestamp;
    private ArraySegment<byte> _comment;
    private bool _inFlightComment;

    public SendQueue() => _sendCompleted = OnSendCompleted;

    /// <summary>Bytes written and not committed.</summary>
    public long UnflushedBytes
    {
        get
        {
            lock (_gate)
            {
                return _written - _committed;
            }
        }
    }

    /// <summary>Body bytes committed to the wire so far (the head, prelude and chunk framing not counted).</summary>
    public long CommittedBytes
    {
        get
        {
            lock (_gate)
            {
                return _committed;
            }
        }
    }

    /// <summary>
    /// Readies the queue for a request on <paramref name="connection"/> whose head is <paramref name="head"/>, rented
    /// from <see cref="ArrayPool{T}.Shared"/> (given back once sent, or by <see cref="Release"/>), reporting into
    /// <paramref name="state"/>. Commits wait while more than <paramref name="maxUnsentBytes"/> committed bytes are
    /// unsent (<see langword="null"/>: never); <paramref name="broken"/> hears of the failed send that broke the
    /// response, once, in the execution context of this call.
    /// </summary>
    public void Reset(RuntimeApiConnection connection, ArraySegment<byte> head, ResponseState state, long? maxUnsentBytes = null, Action<Exception>? broken = null)
    {
        _connection = connection;
        _state = state;
        _head = head;
        _cap = maxUnsentBytes ?? long.MaxValue;
        _broken = broken;
        _context = ExecutionContext.Capture();
    }

    /// <summary>
    /// Sets the prelude (JSON and its 8-byte delimiter), framed here as one chunk; it follows the request head in the
    /// first send. A prelude not yet committed can be replaced.
    /// </summary>
    public void SetPrelude(ReadOnlySpan<byte> prelude)
    {
        if (_state.AnythingSent)
        {
            throw new InvalidOperationException("The prelude was already committed to the wire.");
        }

        ReturnPrelude();
        var length = prelude.Length;
        var array = ArrayPool<byte>.Shared.Rent(ChunkFraming.MaxHeaderLength + length + ChunkFraming.DataEnd.Length);
        var at = ChunkFraming.WriteHeader(array, length);
        prelude.CopyTo(array.AsSpan(at));
        at += length;
        ChunkFraming.DataEnd.CopyTo(array.AsSpan(at));
        _prelude = new ArraySegment<byte>(array, 0, at + ChunkFraming.DataEnd.Length);
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        sizeHint = Math.Max(sizeHint, 1);
        lock (_gate)
        {
            if (_last is { Borrowed: false } last)
            {
                if (last.Start == last.End)
                {
                    // Everything in it was sent (none of it is in flight): write from its start again.
                    last.Start = last.End = 0;
                    if (last.Array.Length < sizeHint)
                    {
                        ArrayPool<byte>.Shared.Return(last.Array);
                        last.Array = ArrayPool<byte>.Shared.Rent(sizeHint);
                    }
                }

                if (last.Array.Length - last.End >= sizeHint)
                {
                    return last.Array.AsMemory(last.End);
                }
            }

            return Append(ArrayPool<byte>.Shared.Rent(Math.Max(BlockSize, sizeHint)), 0, 0, borrowed: false).Array;
        }
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public void Advance(int count)
    {
        if (count == 0)
        {
            return;
        }

        lock (_gate)
        {
            if (count < 0 || _last is null || _last.Borrowed || count > _last.Array.Length - _last.End)
            {
                throw new ArgumentOutOfRangeException(nameof(count), "Advanced past the memory that was handed out.");
            }

            _last.End += count;
            _written += count;
            if (_eventClock is not null)
            {
                _eventTail.Append(_last.Array.AsSpan(_last.End - count, count));
            }
        }
    }

    /// <summary>Copies <paramref name="source"/> in, uncommitted.</summary>
    public void Write(ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            var span = GetSpan();
            var count = Math.Min(span.Length, source.Length);
            source[..count].CopyTo(span);
            Advance(count);
            source = source[count..];
        }
    }

    /// <summary>
    /// Commits what was written: it goes out now, or with the next send when one is in flight. Completes at once unless
    /// more than the cap of committed bytes is unsent; then when enough of it was sent (or the queue broke).
    /// </summary>
    public ValueTask FlushAsync() => Commit(borrowed: default, terminator: default, untilSent: false);

    /// <summary>
    /// Commits what was written followed by <paramref name="data"/>, which is sent from the caller's memory without a
    /// copy: the task completes once the socket took it (or the queue broke). With <paramref name="end"/>, the last
    /// chunk follows.
    /// </summary>
    public ValueTask SendAsync(ArraySegment<byte> data, bool end) => Commit(data, end ? End : default, untilSent: true);

    /// <summary>Commits what was written and the last chunk; completes as <see cref="FlushAsync"/>.</summary>
    public ValueTask EndAsync() => Commit(borrowed: default, End, untilSent: false);

    /// <summary>
    /// Commits what was written and then <paramref name="errorEnd"/> (the last chunk with the error trailers, framed);
    /// completes as <see cref="FlushAsync"/>.
    /// </summary>
    public ValueTask EndWithErrorAsync(ArraySegment<byte> errorEnd) => Commit(borrowed: default, errorEnd, untilSent: false);

    /// <summary>Completes when everything committed was sent and no send is in flight (or the queue broke).</summary>
    public ValueTask DrainAsync() => Wait(untilSentAt: 0, untilIdle: true);

    /// <summary>Drops what was written and not committed; only while nothing was committed.</summary>
    public void DiscardUnflushed()
    {
        lock (_gate)
        {
            if (_committed > 0 || _state.AnythingSent)
            {
                throw new InvalidOperationException("Bytes already committed to the wire cannot be taken back.");
            }

            ReleaseBlocks();
            _written = 0;
        }
    }

    /// <summary>
    /// From now on the body is a <c>text/event-stream</c>: the queue keeps track of where its written bytes end relative
    /// to events and times its commits on <paramref name="clock"/>, for <see cref="TryCommitComment"/>. Before the first
    /// commit (bytes written before are taken into account); until <see cref="Release"/>.
    /// </summary>
    public void TrackEvents(TimeProvider clock)
    {
        lock (_gate)
        {
            _eventTail = default;
            for (var block = _first; block is not null; block = block.Next)
            {
                _eventTail.Append(block.Array.AsSpan(block.Start, block.End - block.Start));
            }

            _lastCommitTimestamp = clock.GetTimestamp();
            _eventClock = clock;
        }
    }

    /// <summary>
    /// Commits <paramref name="chunk"/> (an HTTP chunk, framed) right after the bytes committed so far, if the body is
    /// quiet and between events: nothing was committed since <paramref name="quietSince"/> (a timestamp of the clock
    /// given to <see cref="TrackEvents"/>), every byte written was committed (bytes written without a flush may be part
    /// of an event), every byte committed is sent or in the send in flight (so the chunk is next on the wire), those
    /// bytes end an event, and the body is neither ended nor broken. It goes now, or right after the send in flight;
    /// the request head and prelude go first if they have not gone yet. <paramref name="lastCommit"/> is when bytes
    /// were last committed (<paramref name="now"/>, when the chunk was).
    /// </summary>
    public bool TryCommitComment(ArraySegment<byte> chunk, long now, long quietSince, out long lastCommit)
    {
        bool start;
        lock (_gate)
        {
            lastCommit = _lastCommitTimestamp;
            if (_eventClock is null || _state.IsBroken || _terminator.Array is not null || _comment.Array is not null
                || _written != _committed || _committed != _sent + _inFlightBytes || lastCommit > quietSince || !_eventTail.EndsEvent)
            {
                return false;
            }

            _comment = chunk;
            _state.MarkSent();
            _lastCommitTimestamp = lastCommit = now;
            start = !_sending;
            _sending = true;
        }

        if (start)
        {
            SendWhileReady();
        }

        return true;
    }

    /// <summary>
    /// The request is over: the pooled arrays go back, an unsent head and prelude too, and nothing of the request stays
    /// referenced. Only when no send is in flight (after <see cref="DrainAsync"/>, a failure, or when nothing was committed).
    /// </summary>
    public void Release()
    {
        lock (_gate)
        {
            if (_sending)
            {
                throw new InvalidOperationException("A send is still in flight.");
            }

            ReleaseBlocks();
            if (!_headTaken && _head.Array is { } head)
            {
                ArrayPool<byte>.Shared.Return(head);
            }

            ReturnPrelude();
            _head = default;
            _headTaken = _preludeTaken = _terminatorTaken = false;
            _terminator = default;
            _written = _committed = _sent = _inFlightBytes = 0;
            _eventClock = null;
            _eventTail = default;
            _comment = default;
            _connection = null;
            _context = null;
            _broken = null;
            _send.Clear();
        }
    }

    void IValueTaskSource.GetResult(short token) => _writerWait.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _writerWait.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _writerWait.OnCompleted(continuation, state, token, flags);

    private ValueTask Commit(ArraySegment<byte> borrowed, ArraySegment<byte> terminator, bool untilSent)
    {
        bool start;
        long waitUntil;
        lock (_gate)
        {
            if (_state.IsBroken || _terminator.Array is not null)
            {
                // Broken, or ended: nothing more goes out (the owner drops later writes before they get here).
                return default;
            }

            if (borrowed.Count > 0)
            {
                Append(borrowed.Array!, borrowed.Offset, borrowed.Offset + borrowed.Count, borrowed: true);
                _written += borrowed.Count;
            }

            if (_eventClock is not null && (_written != _committed || !_state.AnythingSent))
            {
                // Bytes leave now (a flush with nothing new sends nothing, so the body stays as quiet as it was).
                _eventTail.Append(borrowed.AsSpan());
                _lastCommitTimestamp = _eventClock.GetTimestamp();
            }

            _state.MarkSent();
            _committed = _written;
            _terminator = terminator;
            waitUntil = untilSent ? _committed : _committed - _cap;
            start = !_sending;
            _sending = true;
        }

        if (start)
        {
            SendWhileReady();
        }

        return Wait(waitUntil, untilIdle: false);
    }

    private ValueTask Wait(long untilSentAt, bool untilIdle)
    {
        lock (_gate)
        {
            if (_state.IsBroken || (untilIdle ? !_sending : _sent >= untilSentAt))
            {
                return default;
            }

            if (_waiting)
            {
                // One waiter at a time: a second would strand the first, whose wait would then never end.
                throw new InvalidOperationException(
                    "A write, flush or drain of this response is already waiting for its sends: writes to one response must not overlap.");
            }

            _writerWait.Reset();
            _waiting = true;
            _waitUntilSent = untilSentAt;
            _waitUntilIdle = untilIdle;
            return new ValueTask(this, _writerWait.Version);
        }
    }

    /// <summary>Sends until nothing committed is left; returns when a send goes on asynchronously (its completion goes on from there).</summary>
    private void SendWhileReady()
    {
        while (true)
        {
            bool wake;
            lock (_gate)
            {
                if (TakeSend())
                {
                    wake = false;
                }
                else
                {
                    // Idle from here on: the next commit starts the sends again, on its own thread.
                    _sending = false;
                    wake = ShouldWakeWriter();
                    if (!wake)
                    {
                        return;
                    }
                }
            }

            if (wake)
            {
                _writerWait.SetResult(true);
                return;
            }

            // A failure comes through the task, never as a throw here. The task is consumed exactly once: now when it
            // completed, else by OnSendCompleted.
#pragma warning disable CA2012
            var send = _connection!.SendAsync(_send, CancellationToken.None);
#pragma warning restore CA2012
            if (!send.IsCompleted)
            {
                _inFlight = send;
                send.GetAwaiter().UnsafeOnCompleted(_sendCompleted);
                return;
            }

            if (!Completed(send))
            {
                return;
            }
        }
    }

    private void OnSendCompleted()
    {
        var send = _inFlight;
        _inFlight = default;
        if (Completed(send))
        {
            SendWhileReady();
        }
    }

    /// <summary>Accounts for a finished send; false when it failed (the queue is broken then).</summary>
    private bool Completed(ValueTask send)
    {
        try
        {
            send.GetAwaiter().GetResult();
        }
#pragma warning disable CA1031 // A failed send breaks the queue; the owner is told, the writer never sees it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Fail(ex);
            return false;
        }

        bool wake;
        lock (_gate)
        {
            _sent += _inFlightBytes;
            ReleaseSent(_inFlightBytes);
            _inFlightBytes = 0;
            if (_inFlightHead)
            {
                ArrayPool<byte>.Shared.Return(_head.Array!);
                _headTaken = true;
            }

            if (_inFlightPrelude)
            {
                ReturnPrelude();
                _preludeTaken = true;
            }

            _terminatorTaken |= _inFlightTerminator;
            if (_inFlightComment)
            {
                _comment = default;
            }

            wake = ShouldWakeWriter();
        }

        if (wake)
        {
            _writerWait.SetResult(true);
        }

        return true;
    }

    /// <summary>Builds the next send from what is committed and not sent; false when there is nothing to send (under the lock).</summary>
    private bool TakeSend()
    {
        _send.Clear();
        _inFlightHead = _inFlightPrelude = _inFlightTerminator = _inFlightComment = false;
        _inFlightBytes = 0;
        if (_state.IsBroken)
        {
            return false;
        }

        var headCommitted = _state.AnythingSent;
        if (headCommitted && !_headTaken && _head.Array is not null)
        {
            _send.Add(_head);
            _inFlightHead = true;
        }

        if (headCommitted && !_preludeTaken && _prelude.Array is not null)
        {
            _send.Add(_prelude);
            _inFlightPrelude = true;
        }

        if (_comment.Array is not null)
        {
            // Committed when everything before it was sent: it goes before anything committed since.
            _send.Add(_comment);
            _inFlightComment = true;
        }

        var data = _committed - _sent;
        var terminator = _terminator.Array is not null && !_terminatorTaken;
        if (data > 0)
        {
            _send.Add(new ArraySegment<byte>(_chunkHeader, 0, ChunkFraming.WriteHeader(_chunkHeader, data)));
            var remaining = data;
            for (var block = _first; block is not null && remaining > 0; block = block.Next)
            {
                var count = (int)Math.Min(block.End - block.Start, remaining);
                if (count > 0)
                {
                    _send.Add(new ArraySegment<byte>(block.Array, block.Start, count));
                    remaining -= count;
                }
            }

            var cleanEnd = terminator && ReferenceEquals(_terminator.Array, End.Array);
            _send.Add(cleanEnd ? DataEndAndEnd : DataEnd);
            if (terminator && !cleanEnd)
            {
                _send.Add(_terminator);
            }
        }
        else if (terminator)
        {
            _send.Add(_terminator);
        }

        _inFlightTerminator = terminator;
        _inFlightBytes = data;
        return _send.Count > 0;
    }

    /// <summary>Whether the waiting writer can go on (under the lock); clears the wait when it can.</summary>
    private bool ShouldWakeWriter()
    {
        if (!_waiting || (!_state.IsBroken && (_waitUntilIdle ? _sending : _sent < _waitUntilSent)))
        {
            return false;
        }

        _waiting = false;
        return true;
    }

    private void Fail(Exception exception)
    {
        bool wake;
        bool broke;
        Action<Exception>? broken;
        lock (_gate)
        {
            broke = _state.TryBreak();
            _sending = false;
            wake = ShouldWakeWriter();
            broken = _broken;
        }

        if (wake)
        {
            _writerWait.SetResult(true);
        }

        if (broke && broken is not null)
        {
            if (_context is { } context)
            {
                ExecutionContext.Run(context, static state => ((BrokenNotice)state!).Tell(), new BrokenNotice(broken, exception));
            }
            else
            {
                broken(exception);
            }
        }
    }

    /// <summary>Drops <paramref name="count"/> sent bytes from the front; blocks left empty go back, but the writable tail stays (under the lock).</summary>
    private void ReleaseSent(long count)
    {
        while (_first is { } block)
        {
            var taken = (int)Math.Min(block.End - block.Start, count);
            block.Start += taken;
            count -= taken;
            if (block.Start < block.End || (block == _last && !block.Borrowed))
            {
                return;
            }

            _first = block.Next;
            if (block == _last)
            {
                _last = null;
            }

            Recycle(block);
        }
    }

    private Block Append(byte[] array, int start, int end, bool borrowed)
    {
        var block = _free ?? new Block();
        _free = block.Next;
        block.Next = null;
        block.Array = array;
        block.Start = start;
        block.End = end;
        block.Borrowed = borrowed;
        if (_last is null)
        {
            _first = _last = block;
        }
        else
        {
            _last.Next = block;
            _last = block;
        }

        return block;
    }

    private void ReleaseBlocks()
    {
        while (_first is { } block)
        {
            _first = block.Next;
            Recycle(block);
        }

        _last = null;
    }

    private void Recycle(Block block)
    {
        if (!block.Borrowed)
        {
            ArrayPool<byte>.Shared.Return(block.Array);
        }

        block.Array = [];
        block.Next = _free;
        _free = block;
    }

    private void ReturnPrelude()
    {
        if (_prelude.Array is { } prelude)
        {
            ArrayPool<byte>.Shared.Return(prelude);
        }

        _prelude = default;
    }

    /// <summary>The owner's callback and the failure it hears of, carried into the captured execution context (only when a send fails).</summary>
    private sealed record BrokenNotice(Action<Exception> Broken, Exception Failure)
    {
        public void Tell() => Broken(Failure);
    }

    /// <summary>
    /// A run of body bytes: a pooled array the writer fills (the last block, until it is full) or a caller's buffer sent
    /// by reference; <see cref="Start"/> is the first byte not sent yet, <see cref="End"/> the end of what was written.
    /// </summary>
    private sealed class Block
    {
        public byte[] Array { get; set; } = [];

        public int Start { get; set; }

        public int End { get; set; }

        public bool Borrowed { get; set; }

        public Block? Next { get; set; }
    }
}
