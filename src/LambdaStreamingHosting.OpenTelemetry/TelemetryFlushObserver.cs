using System.Globalization;
using System.Runtime.CompilerServices;
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
/// no flush (the exporters keep their own schedule).
/// </summary>
internal sealed partial class TelemetryFlushObserver(
    IServiceProvider services, IOptions<LambdaTelemetryFlushOptions> options, ILogger<TelemetryFlushObserver> logger) : ILambdaLifecycleObserver, IDisposable
{
    private BackgroundFlush? _traces;
    private BackgroundFlush? _metrics;
    private bool _resolved;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask OnFreezingAsync(CancellationToken cancellationToken)
    {
        if (!_resolved)
        {
            // The providers the app registered (AddOpenTelemetry().WithTracing/WithMetrics), either or both.
            if (services.GetService<TracerProvider>() is { } tracer)
            {
                _traces = new BackgroundFlush(() => tracer.ForceFlush(), "LambdaStreaming-TraceFlush");
            }

            if (services.GetService<MeterProvider>() is { } meter)
            {
                _metrics = new BackgroundFlush(() => meter.ForceFlush(), "LambdaStreaming-MetricFlush");
            }

            _resolved = true;
        }

        var traces = _traces?.Request() ?? Task.CompletedTask;
        var metrics = _metrics?.Request() ?? Task.CompletedTask;
        var both = traces.IsCompleted ? metrics : metrics.IsCompleted ? traces : Task.WhenAll(traces, metrics);
        var timeout = options.Value.Timeout;
        try
        {
            await both.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            var what = !traces.IsCompleted && !metrics.IsCompleted ? "spans and metrics" : !traces.IsCompleted ? "spans" : "metrics";
            FlushTimedOut(logger, what, timeout.TotalMilliseconds.ToString(CultureInfo.InvariantCulture));
        }
    }

    public void Dispose()
    {
        _traces?.Dispose();
        _metrics?.Dispose();
    }

    [LoggerMessage(1, LogLevel.Warning,
        "The {Signals} were not exported within {TimeoutMilliseconds} ms before the next event was requested (after which Lambda may freeze the function); the export goes on after the next thaw. Check the exporter's endpoint, or raise LambdaStreaming:TelemetryFlush:Timeout.")]
    private static partial void FlushTimedOut(ILogger logger, string signals, string timeoutMilliseconds);
}
