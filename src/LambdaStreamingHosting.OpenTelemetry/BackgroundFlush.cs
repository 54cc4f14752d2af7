namespace LambdaStreamingHosting.OpenTelemetry;

/// <summary>
/// Runs a provider's blocking <c>ForceFlush</c> off the invocation loop, one at a time, so that the wait for it can be
/// bounded (OpenTelemetry's own timeout does not bound every case: a metric collection blocks until its export ends,
/// and a span batch counts as flushed once its export started). A flush still running when the next is asked for (the
/// collector is slow, or the process was frozen in the middle) is followed by one fresh flush, never by a growing
/// queue of them: the follow-up, not started yet, covers everything recorded until it starts.
/// </summary>
internal sealed class BackgroundFlush(Action flush)
{
    private readonly Lock _gate = new();
    private readonly Action _flush = flush;
    private Task _current = Task.CompletedTask;
    private bool _followUpQueued;

    /// <summary>A task that completes once everything recorded before this call was flushed (or the flush failed).</summary>
    public Task Request()
    {
        lock (_gate)
        {
            if (_current.IsCompleted)
            {
                _current = Task.Run(_flush, CancellationToken.None);
            }
            else if (!_followUpQueued)
            {
                _followUpQueued = true;
                _current = _current.ContinueWith(
                    static (_, state) => ((BackgroundFlush)state!).RunFollowUp(), this,
                    CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            }

            return _current;
        }
    }

    private void RunFollowUp()
    {
        lock (_gate)
        {
            _followUpQueued = false;
        }

        _flush();
    }
}
