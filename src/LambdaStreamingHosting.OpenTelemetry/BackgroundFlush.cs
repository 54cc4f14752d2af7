namespace LambdaStreamingHosting.OpenTelemetry;

/// <summary>
/// Runs a provider's blocking <c>ForceFlush</c> on a thread of its own, so that the invocation loop can bound its wait
/// for it (OpenTelemetry's own timeout does not: a metric collection blocks until its export has ended, and a span batch
/// counts as flushed once its export started) without tying up thread-pool threads while an export is slow. One flush
/// runs at a time; asked for while one runs (the collector is slow, or the process was frozen in the middle), the next
/// flush starts when that one ends, and every request made before it starts is answered by it: never a queue of flushes.
/// </summary>
internal sealed class BackgroundFlush : IDisposable
{
    private readonly Action _flush;
    private readonly string _threadName;
    private readonly SemaphoreSlim _requested = new(0);
    private readonly Lock _gate = new();
    private TaskCompletionSource? _next;
    private Thread? _thread;
    private volatile bool _disposed;

    public BackgroundFlush(Action flush, string threadName)
    {
        _flush = flush;
        _threadName = threadName;
    }

    /// <summary>A task that completes once a flush that started after this call has ended (or failed).</summary>
    public Task Request()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = _threadName };
                _thread.Start();
            }

            if (_next is null)
            {
                _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _requested.Release();
            }

            return _next.Task;
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _requested.Release();
    }

    private void Run()
    {
        while (true)
        {
            _requested.Wait();
            if (_disposed)
            {
                _next?.TrySetCanceled();
                return;
            }

            TaskCompletionSource done;
            lock (_gate)
            {
                done = _next!;
                _next = null;
            }

            try
            {
                _flush();
            }
#pragma warning disable CA1031 // A failing exporter must not take the flush thread (and the function) down.
            catch
#pragma warning restore CA1031
            {
            }

            done.TrySetResult();
        }
    }
}
