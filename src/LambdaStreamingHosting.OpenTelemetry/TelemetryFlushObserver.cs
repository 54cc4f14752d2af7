using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using LambdaStreamingHosting.Lifecycle;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace LambdaStreamingHosting.OpenTelemetry;

/// <summary>
/// Exports the app's spans and metrics after each answer, before the next event is requested: OpenTelemetry exports
/// from background threads that Lambda freezes with the process, so without this what an invocation recorded would
/// leave only after a later thaw, or never. The tracer and meter providers flush side by side, each on a
/// thread of its own (see <see cref="BackgroundFlush"/>), and the loop waits for them at most <see cref="LambdaTelemetryFlushOptions.Timeout"/>;
/// a flush that takes longer is logged and left to finish after the thaw. Lambda Managed Instances never freeze and get
/// no flush (the exporters keep their own schedule). The wait is this object itself, re-armed before each freeze (one
/// timer, no task per flush), so flushing adds no allocation to an invocation.
/// <para>
/// A span flush is OpenTelemetry's own <c>ForceFlush()</c>, with no timeout of its own: for a batch processor it waits
/// for the worker's signal that the export which took the spans has ended. The queue being empty proves nothing, since
/// an exporter takes the spans from the queue before it sends them (OTLP serializes, then posts). Asking again with a
/// short timeout until the queue is empty let the function freeze with the request to the collector on its way. The
/// worker raises its signal for an instant only: a flush that starts waiting after the export ended (the flush thread
/// was descheduled for the whole export) notices only at the SDK's one-second poll. Measured: 2 to 5 flushes in 3,000
/// with an OTLP/HTTP collector on loopback, from 1 in 600 to 3 in 100 with an exporter that answers at once. Such a
/// freeze waits the bound and logs it (see <see cref="ReportTimeout"/>). Use the simple processor for exporters that
/// do no I/O. (A metric flush collects and exports on the calling thread: no such signal.)
/// </para>
/// </summary>
internal sealed partial class TelemetryFlushObserver(
    IServiceProvider services, IOptions<LambdaTelemetryFlushOptions> options, ILogger<TelemetryFlushObserver> logger)
    : ILambdaLifecycleObserver, IValueTaskSource<bool>, IDisposable
{
    private readonly Lock _gate = new();
    private ManualResetValueTaskSourceCore<bool> _wait = new() { RunContinuationsAsynchronously = true };
    private TracerProvider? _tracer;
    private BackgroundFlush? _traces;
    private BackgroundFlush? _metrics;
    private ITimer? _timer;
    private bool _resolved;

    // The wait in progress: the flushes it needs, and when it gives up (Environment.TickCount64).
    private bool _waiting;
    private long _traceFlush;
    private long _metricFlush;
    private long _deadline;
    private bool _cancelled;

    public ValueTask OnFreezingAsync(CancellationToken cancellationToken)
    {
        if (!_resolved)
        {
            Resolve();
        }

        return _traces is null && _metrics is null ? ValueTask.CompletedTask : FlushAsync(cancellationToken);
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _traces?.Dispose();
        _metrics?.Dispose();
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _wait.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _wait.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _wait.OnCompleted(continuation, state, token, flags);

    private void Resolve()
    {
        // The providers the app registered (AddOpenTelemetry().WithTracing/WithMetrics), either or both.
        if (services.GetService<TracerProvider>() is { } tracer)
        {
            _tracer = tracer;
            _traces = new BackgroundFlush(() => tracer.ForceFlush(), OnFlushed, "LambdaStreaming-TraceFlush");
        }

        if (services.GetService<MeterProvider>() is { } meter)
        {
            _metrics = new BackgroundFlush(() => meter.ForceFlush(), OnFlushed, "LambdaStreaming-MetricFlush");
        }

        if (_traces is not null || _metrics is not null)
        {
            _timer = TimeProvider.System.CreateTimer(static state => ((TelemetryFlushObserver)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        _resolved = true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        var timeout = options.Value.Timeout;
        short token;
        lock (_gate)
        {
            _wait.Reset();
            token = _wait.Version;
            _cancelled = false;
            _deadline = Environment.TickCount64 + (long)Math.Ceiling(timeout.TotalMilliseconds);
            _waiting = true;
            _traceFlush = _traces?.Request() ?? 0;
            _metricFlush = _metrics?.Request() ?? 0;
        }

        _timer!.Change(timeout, Timeout.InfiniteTimeSpan);
        bool inTime;
        using (cancellationToken.UnsafeRegister(static state => ((TelemetryFlushObserver)state!).OnCancelled(), this))
        {
            inTime = await new ValueTask<bool>(this, token).ConfigureAwait(false);
        }

        _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (_cancelled)
        {
            throw new OperationCanceledException(cancellationToken);
        }

        if (!inTime)
        {
            ReportTimeout(timeout);
        }
    }

    /// <summary>
    /// Says what the bound cut short. Spans whose export had already taken them from the queue (a zero-timeout flush
    /// finds it empty) were sent to a slow collector, or OpenTelemetry missed its own end-of-export signal: that is not
    /// the stuck or unreachable exporter the other warning points to.
    /// </summary>
    private void ReportTimeout(TimeSpan timeout)
    {
        var milliseconds = timeout.TotalMilliseconds.ToString(CultureInfo.InvariantCulture);
        var spansLate = _traces?.HasEnded(_traceFlush) == false;
        var metricsLate = _metrics?.HasEnded(_metricFlush) == false;
        var spansTaken = spansLate && _tracer!.ForceFlush(0);
        if (spansTaken)
        {
            SpanExportUnconfirmed(logger, milliseconds);
        }

        spansLate &= !spansTaken;
        if (spansLate || metricsLate)
        {
            FlushTimedOut(logger, spansLate && metricsLate ? "spans and metrics" : spansLate ? "spans" : "metrics", milliseconds);
        }
    }

    /// <summary>A flush ended (on its thread): the wait is over once every flush it needs has.</summary>
    private void OnFlushed()
    {
        lock (_gate)
        {
            if (_waiting && _traces?.HasEnded(_traceFlush) != false && _metrics?.HasEnded(_metricFlush) != false)
            {
                Complete(inTime: true);
            }
        }
    }

    private void OnTimer()
    {
        lock (_gate)
        {
            if (!_waiting)
            {
                return;
            }

            // A tick armed for an earlier wait that ended in time (or one a clock tick early) finds this one not due yet.
            var remaining = _deadline - Environment.TickCount64;
            if (remaining > 0)
            {
                _timer!.Change(TimeSpan.FromMilliseconds(remaining), Timeout.InfiniteTimeSpan);
                return;
            }

            Complete(inTime: false);
        }
    }

    private void OnCancelled()
    {
        lock (_gate)
        {
            if (_waiting)
            {
                _cancelled = true;
                Complete(inTime: false);
            }
        }
    }

    private void Complete(bool inTime)
    {
        _waiting = false;
        _wait.SetResult(inTime);
    }

    [LoggerMessage(1, LogLevel.Warning,
        "The {Signals} were not exported within {TimeoutMilliseconds} ms before the next event was requested (after which Lambda may freeze the function); the export goes on after the next thaw. Check the exporter's endpoint, or raise LambdaStreaming:TelemetryFlush:Timeout.")]
    private static partial void FlushTimedOut(ILogger logger, string signals, string timeoutMilliseconds);

    [LoggerMessage(2, LogLevel.Warning,
        "The spans had left OpenTelemetry's queue, but the end of their export was not reported within {TimeoutMilliseconds} ms before the next event was requested (after which Lambda may freeze the function): the collector is slow, or OpenTelemetry's batch processor missed its own end-of-export signal, which happens now and then and which it notices only at its one-second poll. If this is frequent, check how fast the collector answers, or raise LambdaStreaming:TelemetryFlush:Timeout.")]
    private static partial void SpanExportUnconfirmed(ILogger logger, string timeoutMilliseconds);
}
