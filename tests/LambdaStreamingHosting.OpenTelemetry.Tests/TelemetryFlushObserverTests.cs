using System.Collections.Concurrent;
using System.Diagnostics;
using LambdaStreamingHosting.Lifecycle;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace LambdaStreamingHosting.OpenTelemetry.Tests;

/// <summary>
/// The flush before each freeze, in process, with a real tracer provider whose exporter the test holds and releases:
/// the wait ends when the span is exported, a collector slower than the bound costs the bound and a warning, and a flush
/// left running at one freeze does not count for the next one.
/// </summary>
public sealed class TelemetryFlushObserverTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    private readonly ActivitySource _source;
    private readonly GatedExporter _exporter;
    private readonly ServiceProvider _services;
    private readonly CapturedLogs _logs = new();

    public TelemetryFlushObserverTests()
    {
        _source = new("FlushObserverTests-" + Guid.NewGuid().ToString("N"));
        _exporter = new();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLogging(logging => logging.AddProvider(_logs));
        services.AddOpenTelemetry().WithTracing(tracing => tracing
            .AddLambdaStreamingInstrumentation()
            .AddSource(_source.Name)
            .SetSampler(new NoRequests())
            .AddProcessor(new BatchActivityExportProcessor(_exporter, scheduledDelayMilliseconds: 3_600_000)));
        _services = services.BuildServiceProvider();
        _ = _services.GetRequiredService<TracerProvider>(); // built, and listening, as the host's start would
    }

    private ILambdaLifecycleObserver Observer => _services.GetServices<ILambdaLifecycleObserver>().OfType<TelemetryFlushObserver>().Single();

    public void Dispose()
    {
        _exporter.Open();
        _services.Dispose();
        _source.Dispose();
    }

    [Fact]
    public async Task The_wait_ends_once_the_invocations_span_is_exported()
    {
        Configure(Generous);
        _exporter.Open();
        Record("first");

        await Observer.OnFreezingAsync(CancellationToken.None).AsTask().WaitAsync(Generous);

        Assert.Contains("first", _exporter.Exported);
        Assert.Empty(_logs.Warnings);
    }

    [Fact]
    public async Task The_wait_lasts_until_the_export_has_sent_the_spans_it_took_from_the_queue()
    {
        // An OTLP exporter takes the spans from the batch processor's queue as it serializes them, and only then sends
        // them. A flush that ended once the queue was empty let the function freeze with the request to the collector on
        // its way (seen: the first invocation's span missing at the collector when the function froze).
        Configure(Generous);
        _exporter.SendTime = TimeSpan.FromMilliseconds(200);
        Record("sent");

        await Observer.OnFreezingAsync(CancellationToken.None).AsTask().WaitAsync(Generous);

        Assert.Contains("sent", _exporter.Exported);
        Assert.Empty(_logs.Warnings);
    }

    [Fact]
    public async Task Spans_taken_by_an_export_that_outlasts_the_bound_are_reported_as_sent_but_unconfirmed()
    {
        // Not the stuck or unreachable exporter of the other warning: the spans are on their way (or OpenTelemetry
        // missed its own end-of-export signal), so the log says so.
        Configure(TimeSpan.FromMilliseconds(200));
        _exporter.ReadsFirst = true;
        Record("first");

        await Observer.OnFreezingAsync(CancellationToken.None).AsTask().WaitAsync(Generous);

        var warning = Assert.Single(_logs.Warnings);
        Assert.StartsWith("The spans had left OpenTelemetry's queue, but the end of their export was not reported within 200 ms", warning, StringComparison.Ordinal);
        Assert.Empty(_exporter.Exported);
    }

    [Fact]
    public async Task A_flush_still_running_from_the_previous_freeze_does_not_end_the_next_wait()
    {
        Configure(TimeSpan.FromMilliseconds(200));
        Record("first");

        // The collector holds the first export past the bound: the wait gives up and says so.
        await Observer.OnFreezingAsync(CancellationToken.None).AsTask().WaitAsync(Generous);
        Assert.Single(_logs.Warnings, w => w.Contains("The spans were not exported within 200 ms", StringComparison.Ordinal));
        Assert.Empty(_exporter.Exported);

        // The next invocation's freeze: the first export ends while it waits, which must not end its wait before the
        // span of this invocation went out in a flush of its own (held until the test lets it through).
        Configure(Generous);
        Record("second");
        var next = Observer.OnFreezingAsync(CancellationToken.None).AsTask();
        _exporter.Release();
        await _exporter.ExportStarted(2).WaitAsync(Generous);
        Assert.False(next.IsCompleted, "The wait ended with the previous freeze's flush, before this invocation's span was exported.");
        _exporter.Release();
        await next.WaitAsync(Generous);

        Assert.Equal(["first", "second"], _exporter.Exported);
        Assert.Single(_logs.Warnings);
    }

    [Fact]
    public void A_flush_asked_for_while_one_runs_is_answered_only_by_the_next_one()
    {
        using var started = new SemaphoreSlim(0);
        using var permits = new SemaphoreSlim(0);
        using var flushed = new SemaphoreSlim(0);
        using var flush = new BackgroundFlush(() =>
        {
            started.Release();
            permits.Wait();
        }, () => flushed.Release(), "test flush");

        var first = flush.Request();
        Assert.True(started.Wait(Generous));
        var second = flush.Request();
        var third = flush.Request();

        Assert.Equal(first + 1, second); // asked while the first runs: the next flush answers it...
        Assert.Equal(second, third);     // ...and every other request made before that one starts
        permits.Release();
        Assert.True(flushed.Wait(Generous));
        Assert.True(flush.HasEnded(first));
        Assert.False(flush.HasEnded(second));

        Assert.True(started.Wait(Generous));
        permits.Release();
        Assert.True(flushed.Wait(Generous));
        Assert.True(flush.HasEnded(third));
    }

    [Fact]
    public async Task Stopping_the_host_ends_the_wait_at_once()
    {
        Configure(Generous);
        Record("first");
        using var stopping = new CancellationTokenSource();

        var wait = Observer.OnFreezingAsync(stopping.Token).AsTask();
        await _exporter.ExportStarted(1).WaitAsync(Generous);
        Assert.False(wait.IsCompleted);
        await stopping.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(Generous));
    }

    private void Configure(TimeSpan timeout) =>
        _services.GetRequiredService<Microsoft.Extensions.Options.IOptions<LambdaTelemetryFlushOptions>>().Value.Timeout = timeout;

    private void Record(string name)
    {
        using var activity = _source.StartActivity(name, ActivityKind.Server);
        Assert.NotNull(activity);
    }

    /// <summary>
    /// An exporter whose exports each wait for one <see cref="Release"/>, or, once <see cref="SendTime"/> is set, take
    /// the spans from the queue first and then take that long to send them (as OTLP serializes, then sends); it remembers
    /// what it exported, once the export ended.
    /// </summary>
    private sealed class GatedExporter : BaseExporter<Activity>
    {
        private readonly SemaphoreSlim _permits = new(0);
        private readonly TaskCompletionSource[] _started = [.. Enumerable.Range(0, 8).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];
        private int _exports;

        public ConcurrentQueue<string> Exported { get; } = new();

        /// <summary>Completes when export number <paramref name="export"/> (from 1) has begun.</summary>
        public Task ExportStarted(int export) => _started[export - 1].Task;

        /// <summary>Lets one export through.</summary>
        public void Release() => _permits.Release();

        /// <summary>Lets every export through from now on.</summary>
        public void Open() => _permits.Release(1_000);

        /// <summary>Whether each export takes its batch from the queue before it waits for its <see cref="Release"/>.</summary>
        public bool ReadsFirst { get; set; }

        /// <summary>When set, each export reads its batch at once and then sends it for this long, with no gate.</summary>
        public TimeSpan? SendTime { get; set; }

        public override ExportResult Export(in Batch<Activity> batch)
        {
            var export = Interlocked.Increment(ref _exports);
            if (export <= _started.Length)
            {
                _started[export - 1].TrySetResult();
            }

            var read = new List<string>();
            if (ReadsFirst || SendTime is not null)
            {
                Read(batch, read);
            }

            if (SendTime is { } sendTime)
            {
                Thread.Sleep(sendTime); // the request to the collector, on its way
            }
            else
            {
                _permits.Wait();
            }

            Read(batch, read);
            read.ForEach(Exported.Enqueue);

            return ExportResult.Success;
        }

        /// <summary>Takes the rest of the batch from the queue (a batch is read once), keeping the spans' names.</summary>
        private static void Read(in Batch<Activity> batch, List<string> names)
        {
            foreach (var activity in batch)
            {
                names.Add(activity.DisplayName);
            }
        }
    }

    /// <summary>
    /// Records no ASP.NET Core request. The provider listens to them (as <c>AddLambdaStreamingInstrumentation</c> makes
    /// it), and other tests in this process serve some (their collector runs on Kestrel): queued here, one would join
    /// the test's exports and the queue the flush looks at.
    /// </summary>
    private sealed class NoRequests : Sampler
    {
        public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
            new(samplingParameters.Name == "Microsoft.AspNetCore.Hosting.HttpRequestIn" ? SamplingDecision.Drop : SamplingDecision.RecordAndSample);
    }

    private sealed class CapturedLogs : ILoggerProvider
    {
        public ConcurrentQueue<string> Warnings { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedLogs owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (logLevel == LogLevel.Warning)
                {
                    owner.Warnings.Enqueue(formatter(state, exception));
                }
            }
        }
    }
}
