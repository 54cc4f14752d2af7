namespace LambdaStreamingHosting.OpenTelemetry;

/// <summary>
/// Runs a provider's blocking <c>ForceFlush</c> on a thread of its own, so that the invocation loop can bound its wait
/// for it (OpenTelemetry's own timeout does not: a metric collection blocks until its export has ended, and a span batch
/// counts as flushed once its export started) without tying up thread-pool threads while an export is slow. One flush
/// runs at a time; asked for while one runs (the collector is slow, or the process was frozen in the middle), the next
/// flush starts when that one ends, and every request made before it starts is answered by it: never a queue of flushes.
/// Flushes are numbered: <see cref="Request"/> returns the number of the flush that answers it, and
/// <see cref="HasEnded"/> says whether that one has ended; after each flush the thread calls the callback it was given.
/// Nothing is allocated per flush.
/// </summary>
internal sealed class BackgroundFlush : IDisposable
{
    private readonly Action _flush;
    private readonly Action _flushed;
    private readonly string _threadName;
    private readonly SemaphoreSlim _requested = new(0);
    private readonly Lock _gate = new();
    private long _started;
    private long _ended;
    private bool _pending;
    private Thread? _thread;
    private volatile bool _disposed;

    /// <param name="flush">The provider's flush (blocking).</param>
    /// <param name="flushed">Called on the flush thread each time a flush has ended (or failed).</param>
    /// <param name="threadName">The name of the flush thread.</param>
    public BackgroundFlush(Action flush, Action flushed, string threadName)
    {
        _flush = flush;
        _flushed = flushed;
        _threadName = threadName;
    }

    /// <summary>Asks for a flush that starts after this call; returns its number, for <see cref="HasEnded"/>.</summary>
    public long Request()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = _threadName };
                _thread.Start();
            }

            if (!_pending)
            {
                _pending = true;
                _requested.Release();
            }

            return _started + 1;
        }
    }

    /// <summary>Whether the flush numbered <paramref name="flush"/> (from <see cref="Request"/>) has ended.</summary>
    public bool HasEnded(long flush) => Volatile.Read(ref _ended) >= flush;

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
                return;
            }

            long flush;
            lock (_gate)
            {
                _pending = false;
                flush = ++_started;
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

            Volatile.Write(ref _ended, flush);
            _flushed();
        }
    }
}
