using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using LambdaStreamingHosting.Lifecycle;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// SnapStart warm-up requests, over a real loopback Runtime API that waits on <c>/restore/next</c> as Lambda does while
/// it takes the snapshot: what ran before the snapshot, in which scope, with which features, and what reached the Runtime
/// API, the meters and the traces.
/// </summary>
public sealed class WarmUpTests : FakeRuntimeApiTest
{
    private static LambdaServerSettings SnapStart(FakeRuntimeApi api) =>
        new() { RuntimeApiEndpoint = api.Endpoint, EndpointOverridesOptions = true, InitializationType = "snap-start" };

    [Fact]
    public async Task Registered_warm_ups_run_through_the_app_before_the_snapshot_each_in_its_own_scope_and_marked()
    {
        var seen = new ConcurrentQueue<Seen>();
        var telemetry = new TelemetryWatch();
        var start = TestApp.StartAsync(Api, app => app.MapPost("/items", async (HttpContext context, ScopeProbe scope) =>
            {
                var invocation = context.GetLambdaInvocation()!;
                using var reader = new StreamReader(context.Request.Body);
                seen.Enqueue(new Seen(invocation.IsWarmUp, invocation.AwsRequestId, scope.Id, await reader.ReadToEndAsync(),
                    context.Request.Query["page"].ToString(), context.Request.Headers["x-probe"].ToString(), Activity.Current, Api.NextRequests));
                return Results.Json(new { ok = true });
            }),
            options =>
            {
                options.WarmUp.Iterations = 3;
                options.WarmUp.Requests.Add(new LambdaWarmUpRequest
                {
                    Method = "POST",
                    Path = "/items?page=2",
                    Body = "{\"name\":\"warm\"}",
                    Headers = { ["content-type"] = "application/json", ["x-probe"] = "from-options" },
                });
            },
            services: services =>
            {
                services.AddScoped<ScopeProbe>();
                services.AddSingleton<ILambdaLifecycleObserver>(provider => telemetry.Start(provider.GetRequiredService<IMeterFactory>()));
            },
            settings: SnapStart(Api));

        await Api.RestoreRequested.Task.Within();
        var warmUps = seen.ToArray();
        Assert.Equal(3, warmUps.Length);
        Assert.All(warmUps, w =>
        {
            Assert.True(w.IsWarmUp);
            Assert.Equal("{\"name\":\"warm\"}", w.Body);
            Assert.Equal("2", w.Page);
            Assert.Equal("from-options", w.Header);
            Assert.Equal(0, w.NextRequestsSoFar);
            Assert.StartsWith("warm-up-", w.RequestId, StringComparison.Ordinal);
        });
        Assert.Equal(3, warmUps.Select(w => w.Scope).Distinct().Count());

        // Nothing of them reached the Runtime API: its only request so far is the wait for the restore.
        Assert.Equal(["GET /2018-06-01/runtime/restore/next"], Api.RequestLines.Select(Target));
        // The server's meter and hosting's request duration saw none of them (hosting's active-request gauge went up and
        // down, and routing counted its match attempts: those two do not count requests).
        Assert.DoesNotContain(telemetry.Measurements, m => m.StartsWith("faas.", StringComparison.Ordinal) || m.StartsWith("lambda_streaming.", StringComparison.Ordinal));
        Assert.DoesNotContain("http.server.request.duration", telemetry.Measurements);
        Assert.All(warmUps, w => Assert.False(w.Activity is { Recorded: true }, "a warm-up's activity must not be recorded"));

        Api.Restore.SetResult();
        App = await start;
        var invocation = Api.Enqueue(TestEvents.FunctionUrl("POST", "/items", body: "{}", headers: new Dictionary<string, string> { ["content-type"] = "application/json" }));
        await (await invocation.Answer.Within()).Completed.Within();
        await Api.WaitForNextRequestsAsync(2).Within(); // the invocation is over (measured, its context disposed)

        var real = seen.Last();
        Assert.False(real.IsWarmUp);
        Assert.Equal(invocation.RequestId, real.RequestId);
        Assert.DoesNotContain(real.Scope, warmUps.Select(w => w.Scope));
        Assert.Contains(telemetry.Measurements, m => m == "faas.invocations");
        Assert.Contains(telemetry.Measurements, m => m == "http.server.request.duration");
    }

    [Fact]
    public async Task A_warm_up_that_throws_or_fails_is_logged_and_the_snapshot_is_still_taken()
    {
        using var logs = new TestLogs();
        var start = TestApp.StartAsync(Api, app =>
            {
                app.MapGet("/throws", string () => throw new InvalidOperationException("warm-up failed on purpose"));
                app.MapGet("/throws-late", async context =>
                {
                    await context.Response.WriteAsync("started");
                    await context.Response.Body.FlushAsync();
                    throw new InvalidOperationException("warm-up failed after the response started");
                });
                app.MapGet("/fine", () => "fine");
            },
            options =>
            {
                options.WarmUp.Iterations = 2;
                options.WarmUp.Requests.Add(new LambdaWarmUpRequest { Path = "/throws" });
                options.WarmUp.Requests.Add(new LambdaWarmUpRequest { Path = "/throws-late" });
                options.WarmUp.Requests.Add(new LambdaWarmUpRequest { Path = "/missing" });
                options.WarmUp.Requests.Add(new LambdaWarmUpRequest { Path = "/fine" });
            },
            settings: SnapStart(Api), logs: logs);

        await Api.RestoreRequested.Task.Within();
        var warnings = logs.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.StartsWith("Warm-up request", StringComparison.Ordinal)).Select(e => e.Message).ToArray();
        Assert.Contains("Warm-up request GET /throws (FunctionUrl) failed: 500 ×2. The init goes on; the code it did not reach is not warmed up.", warnings);
        Assert.Contains("Warm-up request GET /throws-late (FunctionUrl) failed: error InvalidOperationException ×2. The init goes on; the code it did not reach is not warmed up.", warnings);
        Assert.Contains("Warm-up request GET /missing (FunctionUrl) failed: 404 ×2. The init goes on; the code it did not reach is not warmed up.", warnings);
        Assert.Equal(3, warnings.Length);
        Assert.Contains(logs.Entries, e => e.Message == "Warm-up request GET /fine (FunctionUrl): 200 ×2.");
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Error && e.Exception?.Message == "warm-up failed on purpose");

        Api.Restore.SetResult();
        App = await start;
        var answer = await Api.Enqueue(TestEvents.FunctionUrl(path: "/fine")).Answer.Within();
        Assert.Equal(200, (await answer.ReadPreludeAsync()).GetProperty("statusCode").GetInt32());
        Assert.Equal("fine", System.Text.Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync()));
    }

    [Fact]
    public async Task With_none_registered_the_server_primes_its_own_path_streamed_and_buffered()
    {
        using var logs = new TestLogs();
        var primed = new ConcurrentQueue<(string Path, bool WarmUp, LambdaEventSource Source, string Writer)>();
        var start = TestApp.StartAsync(Api, app =>
            {
                app.Use(async (context, next) =>
                {
                    var invocation = context.GetLambdaInvocation()!;
                    primed.Enqueue((context.Request.Path.Value!, invocation.IsWarmUp, invocation.EventSource, context.Features.Get<IHttpResponseBodyFeature>()!.GetType().Name));
                    await next(context);
                });
                app.MapGet("/", () => "root");
            },
            settings: SnapStart(Api), logs: logs);

        await Api.RestoreRequested.Task.Within();
        var runs = primed.ToArray();
        Assert.Equal(10, runs.Length); // 5 iterations of each shape
        Assert.All(runs, run => Assert.Equal(("/_lambda-streaming/warm-up", true), (run.Path, run.WarmUp)));
        Assert.Equal(5, runs.Count(run => run is { Source: LambdaEventSource.FunctionUrl, Writer: nameof(StreamingResponseBodyFeature) }));
        Assert.Equal(5, runs.Count(run => run is { Source: LambdaEventSource.HttpApi, Writer: nameof(BufferedResponseBodyFeature) }));
        // The 404 of the priming request is expected, and an HTTP API event during the warm-up warns of nothing.
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Contains(logs.Entries, e => e.Message.StartsWith("Ran 10 warm-up request(s) before the snapshot in ", StringComparison.Ordinal));
        Api.Restore.SetResult();
        App = await start;
    }

    [Fact]
    public async Task On_demand_the_warm_up_runs_before_the_first_next_only_when_asked_for()
    {
        var seen = new ConcurrentQueue<(bool WarmUp, int NextRequests)>();
        void Map(WebApplication app) => app.MapGet("/hello", (HttpContext context) =>
        {
            seen.Enqueue((context.GetLambdaInvocation()!.IsWarmUp, Api.NextRequests));
            return "hello";
        });

        App = await TestApp.StartAsync(Api, Map, options =>
        {
            options.WarmUp.DuringInit = true;
            options.WarmUp.Requests.Add(new LambdaWarmUpRequest { Path = "/hello" });
        });
        Assert.Equal(Enumerable.Repeat((true, 0), 5), seen);
        await (await Api.Enqueue(TestEvents.FunctionUrl(path: "/hello")).Answer.Within()).Completed.Within();
        Assert.Equal((false, 1), seen.Last());
    }

    [Fact]
    public async Task On_demand_without_DuringInit_nothing_runs_before_the_first_event()
    {
        var seen = 0;
        App = await TestApp.StartAsync(Api, app => app.MapGet("/hello", () => Interlocked.Increment(ref seen)), options =>
            options.WarmUp.Requests.Add(new LambdaWarmUpRequest { Path = "/hello" }));
        await Api.WaitForNextRequestsAsync(1).Within();
        Assert.Equal(0, Volatile.Read(ref seen));
    }

    [Fact]
    public async Task Before_snapshot_hooks_run_in_reverse_registration_order_and_after_restore_hooks_in_order()
    {
        var events = new ConcurrentQueue<string>();
        var start = TestApp.StartAsync(Api, app => app.MapGet("/", () => "ok"),
            services: services =>
            {
                services.AddSingleton<ILambdaLifecycleObserver>(new NamedObserver("first", events));
                services.AddSingleton<ILambdaLifecycleObserver>(new NamedObserver("second", events));
            },
            settings: SnapStart(Api));

        await Api.RestoreRequested.Task.Within();
        Api.Restore.SetResult();
        App = await start;
        Assert.Equal(
            ["init first", "init second", "before-snapshot second", "before-snapshot first", "after-restore first", "after-restore second"],
            events);
    }

    [Fact]
    public async Task A_failing_after_restore_hook_is_reported_to_restore_error()
    {
        var start = TestApp.StartAsync(Api, app => app.MapGet("/", () => "ok"),
            services: services => services.AddSingleton<ILambdaLifecycleObserver>(new NamedObserver("failing", new ConcurrentQueue<string>(), failAfterRestore: true)),
            settings: SnapStart(Api));
        await Api.RestoreRequested.Task.Within();
        Api.Restore.SetResult();

        var report = await Api.RestoreError.Task.Within();
        Assert.Equal("InvalidOperationException", report.Headers["Lambda-Runtime-Function-Error-Type"]);
        Assert.Contains("after-restore failed on purpose", report.BodyText, StringComparison.Ordinal);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => start);
        Assert.Equal("after-restore failed on purpose", error.Message);
        Assert.Equal(0, Api.NextRequests);
    }

    [Fact]
    public async Task After_a_restore_long_after_the_snapshot_deadlines_are_read_on_the_clock_of_the_restore()
    {
        // On Lambda a snapshot may wait days for its restore: nothing measured at init may stand in for the deadline.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var seen = new ConcurrentQueue<(TimeSpan Remaining, bool Aborted)>();
        var start = TestApp.StartAsync(Api, app => app.MapGet("/", (HttpContext context) =>
            {
                seen.Enqueue((context.GetLambdaInvocation()!.RemainingTime, context.RequestAborted.IsCancellationRequested));
                return "ok";
            }),
            settings: new LambdaServerSettings { RuntimeApiEndpoint = Api.Endpoint, EndpointOverridesOptions = true, InitializationType = "snap-start", Time = clock },
            clock: clock);
        await Api.RestoreRequested.Task.Within();
        var warmUps = seen.Count;
        clock.Advance(TimeSpan.FromDays(3));
        Api.Restore.SetResult();
        App = await start;

        await (await Api.Enqueue(TestEvents.FunctionUrl(), deadline: clock.GetUtcNow() + TimeSpan.FromSeconds(30)).Answer.Within()).Completed.Within();

        var (remaining, aborted) = seen.Last();
        Assert.Equal(warmUps + 1, seen.Count);
        Assert.InRange(remaining, TimeSpan.FromSeconds(29), TimeSpan.FromSeconds(30));
        Assert.False(aborted);
    }

    [Theory]
    [InlineData(-1, "/x", "LambdaStreaming:WarmUp:Iterations must be from 0 (no warm-up) to 100; it is -1.")]
    [InlineData(1, "x", "LambdaStreaming:WarmUp:Requests:0:Path must start with '/' and have no white space; it is 'x'.")]
    public async Task Invalid_warm_up_options_fail_at_startup(int iterations, string path, string message)
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => TestApp.StartAsync(Api, _ => { }, options =>
        {
            options.WarmUp.Iterations = iterations;
            options.WarmUp.Requests.Add(new LambdaWarmUpRequest { Path = path });
        }));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Warm_up_requests_bind_from_configuration()
    {
        var seen = new ConcurrentQueue<string>();
        var start = TestApp.StartAsync(Api, app => app.MapPut("/config/{id}", async (HttpContext context, string id) =>
            {
                using var reader = new StreamReader(context.Request.Body);
                seen.Enqueue($"{id} {context.Request.Headers.Authorization} {await reader.ReadToEndAsync()}");
            }),
            settings: SnapStart(Api),
            configuration: new Dictionary<string, string?>
            {
                ["LambdaStreaming:WarmUp:Iterations"] = "1",
                ["LambdaStreaming:WarmUp:Requests:0:Method"] = "PUT",
                ["LambdaStreaming:WarmUp:Requests:0:Path"] = "/config/7",
                ["LambdaStreaming:WarmUp:Requests:0:Body"] = "text",
                ["LambdaStreaming:WarmUp:Requests:0:Headers:Authorization"] = "Bearer warm",
            });
        await Api.RestoreRequested.Task.Within();
        Assert.Equal(["7 Bearer warm text"], seen);
        Api.Restore.SetResult();
        App = await start;
    }

    private static string Target(string requestLine) => string.Join(' ', requestLine.Split(' ').Take(2));

    private sealed record Seen(bool IsWarmUp, string RequestId, Guid Scope, string Body, string Page, string Header, Activity? Activity, int NextRequestsSoFar);

    private sealed class ScopeProbe
    {
        public Guid Id { get; } = Guid.NewGuid();
    }

    private sealed class NamedObserver(string name, ConcurrentQueue<string> events, bool failAfterRestore = false) : ILambdaLifecycleObserver
    {
        public ValueTask OnInitAsync(CancellationToken cancellationToken)
        {
            events.Enqueue("init " + name);
            return ValueTask.CompletedTask;
        }

        public ValueTask OnBeforeSnapshotAsync(CancellationToken cancellationToken)
        {
            events.Enqueue("before-snapshot " + name);
            return ValueTask.CompletedTask;
        }

        public ValueTask OnAfterRestoreAsync(CancellationToken cancellationToken)
        {
            events.Enqueue("after-restore " + name);
            return failAfterRestore ? throw new InvalidOperationException("after-restore failed on purpose") : ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// Every measurement of the app's own meters (this app's <see cref="IMeterFactory"/>: the server's
    /// <c>LambdaStreamingHosting</c> meter and ASP.NET Core hosting's), from the init hook on, and every request activity
    /// recorded. Started by the first lifecycle hook, before any warm-up.
    /// </summary>
    private sealed class TelemetryWatch : ILambdaLifecycleObserver, IDisposable
    {
        private readonly MeterListener _meters = new();
        private readonly ActivityListener _activities;

        public TelemetryWatch() => _activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> options) => ActivitySamplingResult.AllDataAndRecorded,
        };

        public ConcurrentQueue<string> Measurements { get; } = new();

        public TelemetryWatch Start(IMeterFactory factory)
        {
            ActivitySource.AddActivityListener(_activities);
            _meters.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _meters.SetMeasurementEventCallback<long>((instrument, _, _, _) => Measurements.Enqueue(instrument.Name));
            _meters.SetMeasurementEventCallback<double>((instrument, _, _, _) => Measurements.Enqueue(instrument.Name));
            _meters.Start();
            return this;
        }

        public void Dispose()
        {
            _meters.Dispose();
            _activities.Dispose();
        }
    }
}
