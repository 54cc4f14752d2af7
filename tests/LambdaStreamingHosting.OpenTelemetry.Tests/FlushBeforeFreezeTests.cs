using System.Net;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.OpenTelemetry.Tests;

/// <summary>
/// The example app (<c>examples/StreamingApi</c>, OpenTelemetry wired as its README shows) as a separate process under
/// the emulator, exporting over OTLP/HTTP protobuf to a loopback receiver, and really frozen with <c>SIGSTOP</c> as soon
/// as it asks for its next event. The exporters' own schedules are set to an hour, so only the flush before each freeze
/// can deliver: the snapshot of the receiver taken at each freeze must already hold the invocation's span (FaaS
/// attributes, the expected parent) and the metrics up to that invocation.
/// </summary>
public sealed class FlushBeforeFreezeTests : IAsyncLifetime
{
    private const string LogStream = "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"otel-tests-{Guid.NewGuid():N}.db");
    private OtlpReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await OtlpReceiver.StartAsync();

    public async Task DisposeAsync()
    {
        await _receiver.DisposeAsync();
        File.Delete(_database);
    }

    [Fact]
    public async Task Each_invocations_span_with_its_parent_and_the_metrics_are_at_the_collector_before_the_function_is_frozen()
    {
        await using var run = await StartAsync(continueXRayTrace: true);

        // 1: the caller's traceparent is the parent.
        var first = await run.GetAsync("/", ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
        var atFirstFreeze = await run.Watcher.NextFreezeAsync(Generous);
        // 2: no traceparent: the invocation's X-Ray trace (the front door passes the caller's X-Amzn-Trace-Id on).
        var second = await run.GetAsync("/", ("X-Amzn-Trace-Id", "Root=1-66e1f0a2-5f1b0c2d3e4f5a6b7c8d9e0f;Parent=53995c3f42cd8ad8;Sampled=1"));
        var atSecondFreeze = await run.Watcher.NextFreezeAsync(Generous);

        var span = atFirstFreeze.SpanOf(first.RequestId) ?? throw Missing(first.RequestId, atFirstFreeze, run);
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", span.TraceId);
        Assert.Equal("b7ad6b7169203331", span.ParentSpanId);
        Assert.Equal(2, span.Kind); // SERVER
        Assert.Equal("Microsoft.AspNetCore", span.Scope);
        // The README's lines add OpenTelemetry's ASP.NET Core instrumentation: the same span has the HTTP attributes.
        Assert.Equal("GET", span.Attributes["http.request.method"]);
        Assert.Equal(200L, span.Attributes["http.response.status_code"]);
        AssertFaasAttributes(span, coldStart: true);
        AssertResource(span.Resource);

        var xray = atSecondFreeze.SpanOf(second.RequestId) ?? throw Missing(second.RequestId, atSecondFreeze, run);
        Assert.Equal("66e1f0a25f1b0c2d3e4f5a6b7c8d9e0f", xray.TraceId);
        Assert.Equal("53995c3f42cd8ad8", xray.ParentSpanId);
        AssertFaasAttributes(xray, coldStart: false);

        // The metrics of each invocation were exported before its freeze too (cumulative: each export has them all).
        Assert.Equal(1, Sum(atFirstFreeze, "faas.invocations", "lambda_streaming.status_class", "2xx"));
        Assert.Equal(2, Sum(atSecondFreeze, "faas.invocations", "lambda_streaming.status_class", "2xx"));
        Assert.Equal(1, Sum(atSecondFreeze, "faas.coldstarts"));
        Assert.Equal(2UL, Count(atSecondFreeze, "faas.invoke_duration"));
        Assert.Equal(2UL, Count(atSecondFreeze, "lambda_streaming.time_to_first_byte"));
        Assert.Equal(2UL, Count(atSecondFreeze, "lambda_streaming.response.body.size"));
        Assert.Equal(1UL, Count(atSecondFreeze, "lambda_streaming.idle.duration"));
        var init = Assert.Single(atSecondFreeze.Latest("faas.init_duration"));
        Assert.Equal("s", init.Unit);
        Assert.Equal(1UL, init.Count);
        Assert.InRange(init.Value, 0.01, 60);
        Assert.Equal(first.ResponseBytes + second.ResponseBytes, Sum(atSecondFreeze, "lambda_streaming.response.body.size"));
        var invocations = Assert.Single(atSecondFreeze.Latest("faas.invocations"));
        Assert.Equal("http", invocations.Attributes["faas.trigger"]);
        Assert.Equal("LambdaStreamingHosting", invocations.Scope);
        AssertResource(invocations.Resource);
    }

    [Fact]
    public async Task By_default_the_XRay_trace_is_not_a_parent_and_each_span_starts_its_own_trace()
    {
        await using var run = await StartAsync(continueXRayTrace: false);

        var invocation = await run.GetAsync("/", ("X-Amzn-Trace-Id", "Root=1-66e1f0a2-5f1b0c2d3e4f5a6b7c8d9e0f;Parent=53995c3f42cd8ad8;Sampled=1"));
        var atFreeze = await run.Watcher.NextFreezeAsync(Generous);

        var span = atFreeze.SpanOf(invocation.RequestId) ?? throw Missing(invocation.RequestId, atFreeze, run);
        Assert.Equal("", span.ParentSpanId);
        Assert.NotEqual("66e1f0a25f1b0c2d3e4f5a6b7c8d9e0f", span.TraceId);
        AssertFaasAttributes(span, coldStart: true);
    }

    [Fact]
    public async Task A_collector_that_takes_its_time_within_the_bound_has_the_span_before_the_freeze()
    {
        // OTLP takes the spans from the batch queue before it sends them: the freeze must wait for the collector's answer,
        // not only for the queue to empty (which let the function freeze with the request on its way).
        await using var run = await StartAsync(continueXRayTrace: false);
        _receiver.DelaySpanAnswers(TimeSpan.FromMilliseconds(300));

        var invocation = await run.GetAsync("/");
        var atFreeze = await run.Watcher.NextFreezeAsync(Generous);

        Assert.NotNull(atFreeze.SpanOf(invocation.RequestId) ?? throw Missing(invocation.RequestId, atFreeze, run));
        Assert.Equal(1, Sum(atFreeze, "faas.invocations", "lambda_streaming.status_class", "2xx"));
    }

    [Fact]
    public async Task A_collector_slower_than_the_flush_bound_delays_the_freeze_only_by_the_bound_and_is_logged()
    {
        const string Warning = "were not exported within 300 ms";
        var warned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The exporter would wait two minutes for the collector: only the flush bound lets the function freeze in time.
        await using var run = await StartAsync(continueXRayTrace: false, flushTimeout: TimeSpan.FromMilliseconds(300),
            exporterTimeout: TimeSpan.FromMinutes(2), output: line =>
            {
                if (line.Contains(Warning, StringComparison.Ordinal))
                {
                    warned.TrySetResult();
                }
            });
        _receiver.HoldAnswers();

        var invocation = await run.GetAsync("/");
        var atFreeze = await run.Watcher.NextFreezeAsync(Generous);

        // The function froze with the export still waiting for the collector: nothing had arrived.
        Assert.Null(atFreeze.SpanOf(invocation.RequestId));
        Assert.Empty(atFreeze.MetricExports);

        // Thawed for the next invocation, the export finishes and the next flush carries both invocations.
        _receiver.ReleaseAnswers();
        var next = await run.GetAsync("/");
        var atNextFreeze = await run.Watcher.NextFreezeAsync(Generous);
        Assert.NotNull(atNextFreeze.SpanOf(invocation.RequestId));
        Assert.NotNull(atNextFreeze.SpanOf(next.RequestId));
        // And the bound was logged (the console logger writes from a thread of its own: the line may follow the thaw).
        await warned.Task.WaitAsync(Generous);
    }

    [Fact]
    public async Task SIGTERM_with_a_collector_that_does_not_answer_still_exits_0_within_Lambdas_shutdown_phase()
    {
        // OpenTelemetry's providers wait up to 5 s each, when the host disposes them, for what is left to export: Lambda
        // kills the process 300 ms after SIGTERM (the whole phase ends after 2 s), so the function died instead of exiting.
        await using var run = await StartAsync(continueXRayTrace: false, flushTimeout: TimeSpan.FromMilliseconds(300),
            exporterTimeout: TimeSpan.FromMinutes(2));
        _receiver.HoldAnswers();
        await run.GetAsync("/");
        await run.Watcher.NextFreezeAsync(Generous); // frozen with its export still waiting for the collector

        var exitCode = await run.Function.ShutdownAsync(TimeSpan.FromSeconds(2));

        Assert.Equal(0, exitCode);
    }

    private static void AssertFaasAttributes(ReceivedSpan span, bool coldStart)
    {
        Assert.Equal(coldStart, span.Attributes["faas.coldstart"]);
        Assert.Equal("http", span.Attributes["faas.trigger"]);
        Assert.Equal("aws", span.Attributes["cloud.provider"]);
        Assert.Equal("us-east-1", span.Attributes["cloud.region"]);
        Assert.Equal("123456789012", span.Attributes["cloud.account.id"]);
        Assert.Equal("arn:aws:lambda:us-east-1:123456789012:function:function", span.Attributes["aws.lambda.invoked_arn"]);
    }

    private static void AssertResource(IReadOnlyDictionary<string, object?> resource)
    {
        Assert.Equal("function", resource["faas.name"]);
        Assert.Equal("$LATEST", resource["faas.version"]);
        Assert.Equal(LogStream, resource["faas.instance"]);
        Assert.Equal(512L * 1024 * 1024, resource["faas.max_memory"]);
        Assert.Equal("aws", resource["cloud.provider"]);
        Assert.Equal("aws_lambda", resource["cloud.platform"]);
        Assert.Equal("us-east-1", resource["cloud.region"]);
        Assert.Equal("function", resource["service.name"]);
    }

    private static double Sum(ReceivedTelemetry telemetry, string metric, string? attribute = null, string? value = null) =>
        telemetry.Latest(metric).Where(p => attribute is null || Equals(p.Attributes.GetValueOrDefault(attribute), value)).Sum(p => p.Value);

    private static ulong Count(ReceivedTelemetry telemetry, string metric) =>
        telemetry.Latest(metric).Aggregate(0UL, (total, point) => total + point.Count);

    private static Xunit.Sdk.XunitException Missing(string requestId, ReceivedTelemetry telemetry, FunctionRun run) =>
        new($"No span of invocation {requestId} had reached the collector when the function froze; it held {telemetry.Spans.Count} span(s) " +
            $"and {telemetry.MetricExports.Count} metric export(s).\n{run.Function.RecentOutput}");

    private async Task<FunctionRun> StartAsync(bool continueXRayTrace, TimeSpan? flushTimeout = null, Action<string>? output = null, TimeSpan? exporterTimeout = null)
    {
        var options = new FunctionProcessOptions
        {
            FileName = "dotnet",
            Arguments = [Path.Combine(AppContext.BaseDirectory, "StreamingApi.dll")],
            WorkingDirectory = AppContext.BaseDirectory,
            Freeze = true,
            Environment =
            {
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = _receiver.Endpoint,
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
                // An hour: nothing leaves on the exporters' own schedule during the test, only through the flush.
                ["OTEL_BSP_SCHEDULE_DELAY"] = "3600000",
                ["OTEL_METRIC_EXPORT_INTERVAL"] = "3600000",
                ["OTEL_SERVICE_NAME"] = null,
                ["OTEL_RESOURCE_ATTRIBUTES"] = null,
                ["AWS_LAMBDA_LOG_STREAM_NAME"] = LogStream,
                ["ConnectionStrings__Sqlite"] = $"Data Source={_database}",
                ["LambdaStreaming__ContinueXRayTrace"] = continueXRayTrace ? "true" : "false",
            },
        };
        // Generous unless a test is about the bound: a busy machine must not turn a slow flush into a failed test.
        options.Environment["LambdaStreaming__TelemetryFlush__Timeout"] = (flushTimeout ?? Generous).ToString();

        if (exporterTimeout is { } exporter)
        {
            options.Environment["OTEL_EXPORTER_OTLP_TIMEOUT"] = ((int)exporter.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        options.StandardOutput = output;

        var function = new FunctionProcess(options);
        var watcher = new FreezeWatcher(function, _receiver);
        var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = watcher });
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(Generous);
        await watcher.NextFreezeAsync(Generous); // frozen after init, waiting for the first event
        return new FunctionRun(function, emulator, watcher);
    }

    private sealed class FunctionRun(FunctionProcess function, LambdaEmulator emulator, FreezeWatcher watcher) : IAsyncDisposable
    {
        private readonly HttpClient _client = new() { BaseAddress = emulator.FunctionUrl, Timeout = Generous };

        public FunctionProcess Function => function;

        public FreezeWatcher Watcher => watcher;

        public async Task<(string RequestId, long ResponseBytes)> GetAsync(string path, params (string Name, string Value)[] headers)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            var before = emulator.Invocations.Count;
            using var response = await _client.SendAsync(request);
            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode}\n{function.RecentOutput}");
            var record = (await emulator.WaitForInvocationsAsync(before + 1, Generous))[before];
            return (record.RequestId, body.Length);
        }

        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            await emulator.DisposeAsync();
            await function.DisposeAsync();
        }
    }
}
