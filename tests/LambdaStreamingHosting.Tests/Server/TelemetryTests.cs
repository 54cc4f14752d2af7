using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// The request's <see cref="Activity"/> (ASP.NET Core hosting's) with the FaaS attributes and the right parent, and the
/// <c>LambdaStreamingHosting</c> meter, observed with the platform's own listeners on a real app and a loopback Runtime API.
/// </summary>
public sealed class TelemetryTests : FakeRuntimeApiTest
{
    private const string XRayHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    private int _invocations;

    [Theory]
    [InlineData(XRayHeader, "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")]
    [InlineData("Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8;Sampled=0", "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00")]
    [InlineData("Parent=53995c3f42cd8ad8; Root=1-5759e988-bd862e3fe1be46a994272793; Lineage=a87bd80c:0", "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00")]
    [InlineData("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", null)] // no parent segment
    [InlineData("Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8", null)] // short root
    [InlineData("Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", null)] // unknown version
    [InlineData("Root=1-5759e988-bd862e3fe1be46a99427279x;Parent=53995c3f42cd8ad8", null)]
    [InlineData("Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8", null)] // W3C forbids a zero trace id
    [InlineData("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000", null)]
    [InlineData("", null)]
    public void An_XRay_trace_header_reads_as_a_W3C_traceparent(string header, string? expected) =>
        Assert.Equal(expected, XRayTraceHeader.ToTraceParent(header));

    [Fact]
    public async Task The_request_activity_carries_the_FaaS_attributes_and_is_a_root_by_default()
    {
        using var activities = new RequestActivities();
        App = await TestApp.StartAsync(Api, app => app.MapGet("/{probe}", () => "ok"),
            settings: new LambdaServerSettings { RuntimeApiEndpoint = Api.Endpoint, EndpointOverridesOptions = true, Region = "eu-west-1" });

        var first = await InvokeAsync(activities.Path, XRayHeader);
        var second = await InvokeAsync(activities.Path, XRayHeader);

        var activity = activities.For(first.RequestId);
        Assert.Equal(ActivityKind.Server, activity.Kind);
        Assert.Equal(first.RequestId, activity.GetTagItem("faas.invocation_id"));
        Assert.Equal(true, activity.GetTagItem("faas.coldstart"));
        Assert.Equal("http", activity.GetTagItem("faas.trigger"));
        Assert.Equal("aws", activity.GetTagItem("cloud.provider"));
        Assert.Equal("eu-west-1", activity.GetTagItem("cloud.region"));
        Assert.Equal("123456789012", activity.GetTagItem("cloud.account.id"));
        Assert.Equal("arn:aws:lambda:eu-west-1:123456789012:function:test", activity.GetTagItem("aws.lambda.invoked_arn"));
        // The X-Ray header is not a parent unless asked for: a root activity with its own trace id.
        Assert.Equal(default, activity.ParentSpanId);
        Assert.False(activity.HasRemoteParent);
        Assert.NotEqual("5759e988bd862e3fe1be46a994272793", activity.TraceId.ToHexString());
        Assert.Equal(false, activities.For(second.RequestId).GetTagItem("faas.coldstart"));
    }

    [Fact]
    public async Task With_ContinueXRayTrace_a_request_without_traceparent_continues_the_invocations_XRay_trace()
    {
        using var activities = new RequestActivities();
        App = await TestApp.StartAsync(Api, app => app.MapGet("/{probe}", (HttpContext context) => context.Request.Headers.ContainsKey("traceparent") ? "polluted" : "clean"),
            options => options.ContinueXRayTrace = true);

        var sampled = await InvokeAsync(activities.Path, XRayHeader);
        var notSampled = await InvokeAsync(activities.Path, "Root=1-66e1f0a2-0123456789abcdef01234567;Parent=1111111111111111;Sampled=0");

        var activity = activities.For(sampled.RequestId);
        Assert.Equal("5759e988bd862e3fe1be46a994272793", activity.TraceId.ToHexString());
        Assert.Equal("53995c3f42cd8ad8", activity.ParentSpanId.ToHexString());
        Assert.True(activity.HasRemoteParent);
        Assert.True(activity.ParentId is { } parent && parent.EndsWith("-01", StringComparison.Ordinal), activity.ParentId);
        // The parent came from the Runtime API's header, not from a header added to the app's request.
        Assert.Equal("clean", sampled.Body);
        var unsampled = activities.For(notSampled.RequestId);
        Assert.Equal("66e1f0a20123456789abcdef01234567", unsampled.TraceId.ToHexString());
        Assert.Equal("1111111111111111", unsampled.ParentSpanId.ToHexString());
        Assert.True(unsampled.ParentId is { } other && other.EndsWith("-00", StringComparison.Ordinal), unsampled.ParentId);
    }

    [Fact]
    public async Task A_traceparent_sent_with_the_request_wins_over_the_XRay_trace()
    {
        using var activities = new RequestActivities();
        App = await TestApp.StartAsync(Api, app => app.MapGet("/{probe}", () => "ok"), options => options.ContinueXRayTrace = true);

        var invocation = await InvokeAsync(activities.Path, XRayHeader, traceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

        var activity = activities.For(invocation.RequestId);
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", activity.TraceId.ToHexString());
        Assert.Equal("b7ad6b7169203331", activity.ParentSpanId.ToHexString());
    }

    [Fact]
    public async Task Concurrent_loops_each_continue_their_own_invocations_trace()
    {
        using var activities = new RequestActivities();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = 0;
        App = await TestApp.StartAsync(Api, app => app.MapGet("/{probe}", async () =>
        {
            // Both invocations are in flight at once before either answers.
            if (Interlocked.Increment(ref arrived) == 2)
            {
                gate.TrySetResult();
            }

            await gate.Task;
            return "ok";
        }), options =>
        {
            options.ContinueXRayTrace = true;
            options.MaxConcurrency = 2;
        });

        var headers = new[]
        {
            "Root=1-66e1f0a2-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=aaaaaaaaaaaaaaaa;Sampled=1",
            "Root=1-66e1f0a2-bbbbbbbbbbbbbbbbbbbbbbbb;Parent=bbbbbbbbbbbbbbbb;Sampled=1",
        };
        var invocations = headers.Select(header => Api.Enqueue(TestEvents.FunctionUrl(path: activities.Path),
            headers: new Dictionary<string, string> { ["Lambda-Runtime-Trace-Id"] = header })).ToArray();
        foreach (var invocation in invocations)
        {
            var answer = await invocation.Answer.Within();
            await answer.ReadPreludeAsync().Within();
            await answer.ReadBodyToEndAsync().Within();
        }

        await Api.WaitForNextRequestsAsync(4).Within();
        Assert.Equal("66e1f0a2aaaaaaaaaaaaaaaaaaaaaaaa", activities.For(invocations[0].RequestId).TraceId.ToHexString());
        Assert.Equal("66e1f0a2bbbbbbbbbbbbbbbbbbbbbbbb", activities.For(invocations[1].RequestId).TraceId.ToHexString());
    }

    [Fact]
    public async Task The_meter_counts_invocations_by_status_class_cold_starts_errors_and_stream_failures()
    {
        App = await TestApp.StartAsync(Api, app =>
        {
            app.MapGet("/ok", () => "ok");
            app.MapGet("/missing", () => Results.NotFound());
            app.MapGet("/fails-mid-stream", async (HttpContext context) =>
            {
                await context.Response.WriteAsync("partial");
                await context.Response.Body.FlushAsync();
                throw new InvalidOperationException("after the start");
            });
        });
        using var metrics = new MeterMeasurements(App.Services.GetRequiredService<IMeterFactory>());

        await InvokeAsync("/ok");
        await InvokeAsync("/ok");
        await InvokeAsync("/missing");
        await InvokeAsync("/fails-mid-stream");

        Assert.Equal(2, metrics.Sum("faas.invocations", ("lambda_streaming.status_class", "2xx")));
        Assert.Equal(1, metrics.Sum("faas.invocations", ("lambda_streaming.status_class", "4xx")));
        // The errorType Lambda is told: the exception's type name, as Lambda's runtimes report it.
        Assert.Equal(1, metrics.Sum("faas.errors", ("error.type", "InvalidOperationException")));
        Assert.Equal(1, metrics.Sum("lambda_streaming.stream.failures", ("error.type", "InvalidOperationException")));
        Assert.Equal(1, metrics.Sum("faas.coldstarts"));
        Assert.Equal(0, metrics.Sum("faas.timeouts"));
        Assert.Equal(4, metrics.Count("faas.invoke_duration"));
        Assert.Equal(4, metrics.Count("lambda_streaming.time_to_first_byte"));
        Assert.Equal([2, 2, 0, 7], metrics.Values("lambda_streaming.response.body.size"));
        Assert.All(metrics.Values("faas.invoke_duration"), seconds => Assert.InRange(seconds, 0, 30));
        Assert.Equal("s", metrics.Unit("faas.invoke_duration"));
        Assert.Equal("By", metrics.Unit("lambda_streaming.response.body.size"));
        Assert.All(metrics.All, m => Assert.Equal("http", m.Tags["faas.trigger"]));
    }

    [Fact]
    public async Task The_meter_records_deadline_aborts_rejected_events_and_the_idle_gap()
    {
        var clock = new FakeTimeProvider();
        var hanging = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app => app.MapGet("/hang", async (CancellationToken aborted) =>
        {
            var stopped = Task.Delay(Timeout.Infinite, aborted);
            hanging.SetResult();
            await stopped.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return "stopped";
        }), options => options.DeadlineMargin = TimeSpan.FromMilliseconds(100), clock: clock);
        using var metrics = new MeterMeasurements(App.Services.GetRequiredService<IMeterFactory>());

        var invocation = Api.Enqueue(TestEvents.FunctionUrl(path: "/hang"), deadline: clock.GetUtcNow().AddMilliseconds(300));
        await hanging.Task.Within();
        clock.Advance(TimeSpan.FromMilliseconds(200));
        var answer = await invocation.Answer.Within();
        await answer.ReadPreludeAsync().Within();
        await answer.ReadBodyToEndAsync().Within();

        // The loop asks for the next event once the first invocation ended; the function then idles for 7 s.
        await Api.WaitForNextRequestsAsync(2).Within();
        clock.Advance(TimeSpan.FromSeconds(7));
        await Api.Enqueue("{not json").Answer.Within();
        await Api.WaitForNextRequestsAsync(3).Within();

        Assert.Equal(1, metrics.Sum("faas.timeouts"));
        Assert.Equal(1, metrics.Sum("faas.invocations", ("lambda_streaming.status_class", "2xx")));
        Assert.Equal(1, metrics.Sum("faas.errors", ("error.type", "LambdaStreaming.InvalidEventJson")));
        Assert.Equal(7.0, Assert.Single(metrics.Values("lambda_streaming.idle.duration")));
    }

    [Fact]
    public async Task With_SnapStart_the_init_duration_leaves_out_the_time_the_snapshot_waited_to_be_restored()
    {
        // On Lambda the snapshot taken while the runtime waits for /restore/next is restored minutes or days later: the
        // environment's init is what runs after the restore, not the snapshot's age.
        var initDurations = new ConcurrentQueue<(object? Scope, double Seconds)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == InvocationTelemetry.MeterName && instrument.Name == "faas.init_duration")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((instrument, seconds, _, _) => initDurations.Enqueue((instrument.Meter.Scope, seconds)));
        listener.Start();
        var waited = TimeSpan.FromSeconds(2);
        var start = TestApp.StartAsync(Api, app => app.MapGet("/{probe}", () => "ok"),
            settings: new LambdaServerSettings { RuntimeApiEndpoint = Api.Endpoint, EndpointOverridesOptions = true, InitializationType = "snap-start" });
        await Api.RestoreRequested.Task.Within();
        await Task.Delay(waited); // the snapshot's wait for its restore: the gap under test
        Api.Restore.SetResult();
        App = await start.Within();

        await InvokeAsync("/first");

        var factory = App.Services.GetRequiredService<IMeterFactory>();
        var init = Assert.Single(initDurations, m => ReferenceEquals(m.Scope, factory)).Seconds;
        Assert.InRange(init, 0, waited.TotalSeconds);
    }

    [Fact]
    public async Task A_request_refused_for_Kestrels_limits_is_measured_as_an_answered_invocation()
    {
        // Refused without running the app, but answered all the same: Lambda bills it and the caller got a 431 or 414.
        App = await TestApp.StartAsync(Api, app => app.Run(context => context.Response.WriteAsync("ran")));
        using var metrics = new MeterMeasurements(App.Services.GetRequiredService<IMeterFactory>());

        await InvokeAsync("/ok", headers: new Dictionary<string, string> { ["x-big"] = new string('b', 40_000) });
        await InvokeAsync("/" + new string('p', 9_000));

        Assert.Equal(2, metrics.Sum("faas.invocations", ("lambda_streaming.status_class", "4xx")));
        Assert.Equal(0, metrics.Count("faas.errors"));
        Assert.Equal(2, metrics.Count("faas.invoke_duration"));
        Assert.Equal([0, 0], metrics.Values("lambda_streaming.response.body.size"));
        Assert.Equal(2, metrics.Count("lambda_streaming.time_to_first_byte"));
    }

    private async Task<(string RequestId, string Body)> InvokeAsync(
        string path, string? traceHeader = null, string? traceParent = null, Dictionary<string, string>? headers = null)
    {
        // One invocation at a time: the loop asked for this one, and asks for the next once this one is over (its
        // activity stopped, its measurements taken).
        await Api.WaitForNextRequestsAsync(++_invocations).Within();
        var runtimeHeaders = new Dictionary<string, string>();
        if (traceHeader is not null)
        {
            runtimeHeaders["Lambda-Runtime-Trace-Id"] = traceHeader;
        }

        headers ??= [];
        if (traceParent is not null)
        {
            headers["traceparent"] = traceParent;
        }

        var invocation = Api.Enqueue(TestEvents.FunctionUrl(path: path, headers: headers), headers: runtimeHeaders);
        var answer = await invocation.Answer.Within();
        await answer.ReadPreludeAsync().Within();
        var body = Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within());
        await answer.Completed.Within();
        await Api.WaitForNextRequestsAsync(_invocations + 1).Within();
        return (invocation.RequestId, body);
    }

    /// <summary>Records the hosting activities of requests (every app's: tests run side by side), as a tracing SDK's listener would.</summary>
    private sealed class RequestActivities : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly ConcurrentQueue<Activity> _stopped = new();

        public RequestActivities()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
                Sample = (ref ActivityCreationOptions<ActivityContext> options) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = _stopped.Enqueue,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public string Path { get; } = "/probe-" + Guid.NewGuid().ToString("N");

        public Activity For(string requestId) =>
            _stopped.SingleOrDefault(a => Equals(a.GetTagItem("faas.invocation_id"), requestId))
            ?? throw new Xunit.Sdk.XunitException($"No activity for invocation {requestId}; recorded: {_stopped.Count}.");

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>Every measurement of the app's <c>LambdaStreamingHosting</c> meter (through its own meter factory).</summary>
    private sealed class MeterMeasurements : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<Measurement> _measurements = new();

        public MeterMeasurements(IMeterFactory factory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "LambdaStreamingHosting" && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.Start();
        }

        public IEnumerable<Measurement> All => _measurements;

        public double Sum(string name, params (string Key, string Value)[] tags) =>
            _measurements.Where(m => m.Name == name && tags.All(t => Equals(m.Tags.GetValueOrDefault(t.Key), t.Value))).Sum(m => m.Value);

        public int Count(string name) => _measurements.Count(m => m.Name == name);

        public double[] Values(string name) => [.. _measurements.Where(m => m.Name == name).Select(m => m.Value)];

        public string? Unit(string name) => _measurements.First(m => m.Name == name).Unit;

        public void Dispose() => _listener.Dispose();

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            _measurements.Enqueue(new Measurement(instrument.Name, instrument.Unit, value, copy));
        }
    }

    private sealed record Measurement(string Name, string? Unit, double Value, Dictionary<string, object?> Tags);
}
