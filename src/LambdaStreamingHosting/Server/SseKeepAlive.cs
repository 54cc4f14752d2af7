using System.Text;
using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// Keeps a quiet <c>text/event-stream</c> answer alive (<see cref="LambdaStreamingOptions.ServerSentEventsKeepAliveInterval"/>):
/// once nothing was committed for the interval, a comment line (<c>: keep-alive</c> and an empty line, which every SSE
/// client skips) goes out, so CloudFront or API Gateway in front of the Function URL do not cut the stream for being
/// idle. Only between events: the bytes committed so far end an event, nothing written is waiting for a flush, and
/// everything committed is sent or in the send in flight, so the comment is next on the wire (see
/// <see cref="SendQueue.TryCommitComment"/>). One timer per invocation loop, made on the first event stream
/// and reused; a busy stream never wakes it more than once per interval, and a write only costs the queue a timestamp.
/// </summary>
internal sealed class SseKeepAlive : IDisposable
{
    /// <summary>The comment as one HTTP chunk: <c>e\r\n: keep-alive\n\n\r\n</c>.</summary>
    internal static readonly ArraySegment<byte> CommentChunk = FrameComment(": keep-alive\n\n");

    /// <summary>The shortest wait between two ticks (a timer due at 0 fires at once).</summary>
    private static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(1);

    private readonly Lock _gate = new();
    private readonly StreamingResponseBodyFeature _body;
    private readonly TimeProvider _time;
    private ITimer? _timer;
    private TimeSpan _interval;
    private long _intervalTicks;
    private bool _running;

    public SseKeepAlive(StreamingResponseBodyFeature body, TimeProvider time)
    {
        _body = body;
        _time = time;
    }

    /// <summary>Starts watching the answer: the first comment may go once it was quiet for <paramref name="interval"/>.</summary>
    public void Start(TimeSpan interval)
    {
        lock (_gate)
        {
            _interval = interval;
            _intervalTicks = (long)(interval.Ticks * (_time.TimestampFrequency / (double)TimeSpan.TicksPerSecond));
            _running = true;
            _timer ??= CreateTimer();
            _timer.Change(interval, interval);
        }
    }

    /// <summary>
/// Stops watching: once this returns no comment is being committed or will be, until the next <see cref="Start"/> (a
/// tick in progress is waited for; a comment committed before may still be on its way).
/// </summary>
    public void Stop()
    {
        lock (_gate)
        {
            if (_running)
            {
                _running = false;
                _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _running = false;
            _timer?.Dispose();
            _timer = null;
        }
    }

    private static ArraySegment<byte> FrameComment(string comment)
    {
        var text = Encoding.ASCII.GetBytes(comment);
        var chunk = new byte[ChunkFraming.MaxHeaderLength + text.Length + ChunkFraming.DataEnd.Length];
        var at = ChunkFraming.WriteHeader(chunk, text.Length);
        text.CopyTo(chunk, at);
        at += text.Length;
        ChunkFraming.DataEnd.CopyTo(chunk.AsSpan(at));
        return new ArraySegment<byte>(chunk, 0, at + ChunkFraming.DataEnd.Length);
    }

    /// <summary>
    /// The timer, made without the current execution context (it outlives the invocation that made it: the log scope
    /// and activity of that invocation must not flow into later ones).
    /// </summary>
    private ITimer CreateTimer()
    {
        var suppress = !ExecutionContext.IsFlowSuppressed();
        if (suppress)
        {
            ExecutionContext.SuppressFlow();
        }

        try
        {
            return _time.CreateTimer(static state => ((SseKeepAlive)state!).OnQuietTimeOver(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        finally
        {
            if (suppress)
            {
                ExecutionContext.RestoreFlow();
            }
        }
    }

    /// <summary>
    /// The interval passed since the timer was set: a comment goes out if the answer was quiet all that time and is
    /// between events. The timer is set again for when the answer will have been quiet for an interval: an interval
    /// after the last bytes were committed when that was less than an interval ago, else a whole interval from now
    /// (after a comment, or when none could go although the answer was quiet: not between events, bytes written and
    /// not flushed, committed bytes still waiting behind the send in flight).
    /// </summary>
    private void OnQuietTimeOver()
    {
        lock (_gate)
        {
            if (!_running || _timer is null)
            {
                return;
            }

            var now = _time.GetTimestamp();
            var next = _interval;
            if (!_body.TrySendKeepAlive(now, now - _intervalTicks, out var lastCommit) && lastCommit > now - _intervalTicks)
            {
                next = _interval - _time.GetElapsedTime(lastCommit, now);
            }

            // As often as that from then on, should a tick ever fail to set it (a period equal to the due time also keeps
            // a test clock that schedules the period after the callback returns in step).
            next = next >= MinimumWait ? next : MinimumWait;
            _timer.Change(next, next);
        }
    }
}
