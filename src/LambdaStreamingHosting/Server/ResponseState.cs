using System.Diagnostics;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// Where one response is in its life, for the streamed and the buffered answer alike: the one place that says whether
/// it started (the <c>OnStarting</c> callbacks ran and the head is committed; <c>HasStarted</c>), whether anything of
/// it was handed to the wire and when, whether its body ended, and whether it was cut short (aborted by the app or the
/// server, or broken with the Runtime API connection). The body features move it forward, the send queue reports the
/// first bytes it sends and the break of its connection, and every decision reads it. Transitions are atomic, because
/// an abort or a failed send may race the app's thread. One instance serves its invocation loop's responses one after
/// another (<see cref="Release"/>).
/// </summary>
internal sealed class ResponseState
{
    private const int Started = 1;
    private const int Ended = 2;
    private const int Aborted = 4;
    private const int Broken = 8;
    private const int CutShort = Aborted | Broken;

    private int _facts;
    private long _firstByteTimestamp;

    /// <summary>The head is committed: the <c>OnStarting</c> callbacks ran, status and headers are read-only. (Kestrel: headers committed.)</summary>
    public bool HasStarted => Has(Started);

    /// <summary>
    /// The body is over (the last chunk is committed, <c>CompleteAsync</c>, a complete <c>Content-Length</c>, or a status
    /// without body): writing more throws. (Kestrel: response completed.)
    /// </summary>
    public bool HasEnded => Has(Ended);

    /// <summary><c>HttpContext.Abort()</c>, or the server's abort at shutdown: later writes are dropped and the invocation fails.</summary>
    public bool IsAborted => Has(Aborted);

    /// <summary>The Runtime API connection broke while the answer was sent: nothing more can be sent, and no reply but an early one will come.</summary>
    public bool IsBroken => Has(Broken);

    /// <summary>Aborted or broken: later writes are dropped.</summary>
    public bool IsCutShort => Has(CutShort);

    /// <summary>Started, neither ended nor cut short: the body takes more bytes.</summary>
    public bool IsBodyOpen => (Volatile.Read(ref _facts) & (Started | Ended | CutShort)) == Started;

    /// <summary>
    /// Bytes of the answer were handed to the socket: for a streamed answer its request head, with the first commit (a
    /// flush, write, end or keep-alive comment; the send queue reports it), after which the invocation can no longer be
    /// answered with <c>/error</c> or replaced by a 500, only ended with the error trailers; for a buffered answer its one
    /// document.
    /// </summary>
    public bool AnythingSent => Volatile.Read(ref _firstByteTimestamp) != 0;

    /// <summary>When the first bytes were handed to the socket (a <see cref="Stopwatch"/> timestamp), or 0.</summary>
    public long FirstByteTimestamp => Volatile.Read(ref _firstByteTimestamp);

    /// <summary>Commits the head; false when it was committed already.</summary>
    public bool TryStart() => TrySet(Started, unless: Started);

    /// <summary>Ends the body; false unless it is open (started, not ended, not cut short).</summary>
    public bool TryEnd()
    {
        while (true)
        {
            var current = Volatile.Read(ref _facts);
            if ((current & (Started | Ended | CutShort)) != Started)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _facts, current | Ended, current) == current)
            {
                return true;
            }
        }
    }

    /// <summary>Aborts the response; false when it ended or was cut short already.</summary>
    public bool TryAbort() => TrySet(Aborted, unless: Ended | CutShort);

    /// <summary>The connection broke (at any point of the response); false when it was broken already.</summary>
    public bool TryBreak() => TrySet(Broken, unless: Broken);

    /// <summary>The first bytes are handed to the socket now; later calls change nothing.</summary>
    public void MarkSent()
    {
        if (Volatile.Read(ref _firstByteTimestamp) == 0)
        {
            Interlocked.CompareExchange(ref _firstByteTimestamp, Stopwatch.GetTimestamp(), 0);
        }
    }

    /// <summary>
    /// A failed answer of which nothing was sent is replaced by an error answer: not started, not ended, not aborted, so
    /// the error answer can start and end. Only while nothing was sent.
    /// </summary>
    public void Restart()
    {
        Debug.Assert(!AnythingSent, "A response whose bytes went out cannot be replaced.");
        Volatile.Write(ref _facts, 0);
    }

    /// <summary>The response is over: the state is as new for the loop's next one (nothing started, sent, ended or cut short).</summary>
    public void Release()
    {
        Volatile.Write(ref _facts, 0);
        Volatile.Write(ref _firstByteTimestamp, 0);
    }

    public override string ToString() =>
        $"{(HasStarted ? "started" : "not started")}{(AnythingSent ? ", sent" : "")}{(HasEnded ? ", ended" : "")}{(IsAborted ? ", aborted" : "")}{(IsBroken ? ", broken" : "")}";

    private bool Has(int facts) => (Volatile.Read(ref _facts) & facts) != 0;

    private bool TrySet(int fact, int unless)
    {
        while (true)
        {
            var current = Volatile.Read(ref _facts);
            if ((current & unless) != 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _facts, current | fact, current) == current)
            {
                return true;
            }
        }
    }
}
