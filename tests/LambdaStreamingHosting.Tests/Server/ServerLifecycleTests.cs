using System.Collections.Concurrent;
using System.Text;
using LambdaStreamingHosting.Lifecycle;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>Activation, options, the Runtime API's failure replies, lifecycle hooks, concurrency and buffered answers.</summary>
public sealed class ServerLifecycleTests : FakeRuntimeApiTest
{
    [Fact]
    public void Outside_Lambda_AddLambdaStreaming_keeps_the_server()
    {
        Assert.Null(Environment.GetEnvironmentVariable("AWS_LAMBDA_RUNTIME_API"));
        var builder = WebApplication.CreateSlimBuilder();
        var before = builder.Services.Last(d => d.ServiceType == typeof(IServer)).ImplementationType;
        builder.Services.AddLambdaStreaming();

        Assert.Equal(before, builder.Services.Last(d => d.ServiceType == typeof(IServer)).ImplementationType);
        Assert.DoesNotContain(builder.Services, d => d.ImplementationType == typeof(LambdaServer));
    }

    [Fact]
    public void Options_bind_from_the_LambdaStreaming_section_then_the_delegate()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["LambdaStreaming:InvokeMode"] = "Buffered";
        builder.Configuration["LambdaStreaming:DeadlineMargin"] = "00:00:02";
        builder.Configuration["LambdaStreaming:MaxResponseBufferSize"] = "2048";
        builder.Configuration["LambdaStreaming:MaxConcurrency"] = "3";
        builder.Services.AddLambdaStreaming(options => options.MaxResponseBufferSize = 4096);
        using var app = builder.Build();

        var options = app.Services.GetRequiredService<IOptions<LambdaStreamingOptions>>().Value;
        Assert.Equal(LambdaInvokeMode.Buffered, options.InvokeMode);
        Assert.Equal(TimeSpan.FromSeconds(2), options.DeadlineMargin);
        Assert.Equal(4096, options.MaxResponseBufferSize);
        Assert.Equal(3, options.MaxConcurrency);
    }

    [Theory]
    [InlineData(LambdaEventSource.ApplicationLoadBalancer, "LambdaStreaming:InvokeMode must be Buffered when LambdaStreaming:EventSource is ApplicationLoadBalancer")]
    [InlineData(LambdaEventSource.HttpApi, "LambdaStreaming:InvokeMode must be Buffered when LambdaStreaming:EventSource is HttpApi")]
    public async Task A_source_that_cannot_stream_with_ResponseStream_fails_at_startup(LambdaEventSource source, string message)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            TestApp.StartAsync(Api, _ => { }, options => options.EventSource = source));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_options_fail_at_startup_with_what_to_change()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestApp.StartAsync(Api, _ => { }, options =>
        {
            options.MaxResponseBufferSize = -1;
            options.DeadlineMargin = TimeSpan.FromSeconds(-1);
            options.MaxConcurrency = 0;
        }));
        Assert.Contains("LambdaStreaming:MaxResponseBufferSize must be 0 or more bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("LambdaStreaming:DeadlineMargin must be at least", error.Message, StringComparison.Ordinal);
        Assert.Contains("LambdaStreaming:MaxConcurrency must be at least 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_500_from_the_Runtime_API_stops_the_host()
    {
        Api.NextStatus = 500;
        App = await TestApp.StartAsync(Api, _ => { });
        var stopping = new TaskCompletionSource();
        App.Lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());

        await stopping.Task.Within();
    }

    [Fact]
    public async Task An_endpoint_with_a_path_prefix_is_accepted()
    {
        await using var prefixed = new FakeRuntimeApi("/fn");
        App = await TestApp.StartAsync(prefixed, app => app.MapGet("/", () => "ok"));

        var invocation = prefixed.Enqueue(TestEvents.FunctionUrl());
        var answer = await invocation.Answer.Within();
        await answer.Completed.Within();

        Assert.Equal($"/fn/2018-06-01/runtime/invocation/{invocation.RequestId}/response", answer.Request.Path);
        Assert.Contains("GET /fn/2018-06-01/runtime/invocation/next", prefixed.RequestLines);
        await App.StopAsync();
    }

    [Fact]
    public async Task Sequential_invocations_share_one_keep_alive_connection()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", () => "ok"));
        for (var i = 0; i < 5; i++)
        {
            await (await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within()).Completed.Within();
        }

        await Api.WaitForNextRequestsAsync(6).Within();
        Assert.Equal(1, Api.ConnectionCount);
    }

    [Fact]
    public async Task Lifecycle_hooks_run_in_order_around_invocations_and_OnThawAsync_gets_the_idle_time()
    {
        var clock = new FakeTimeProvider();
        var observer = new RecordingObserver();
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", () =>
        {
            observer.Events.Enqueue("request");
            return "ok";
        }), services: services => services.AddSingleton<ILambdaLifecycleObserver>(observer), clock: clock);

        Assert.Equal(["init"], observer.Events);
        await (await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within()).Completed.Within();
        await Api.WaitForNextRequestsAsync(2).Within(); // the first invocation ended: the idle time counts from here
        clock.Advance(TimeSpan.FromSeconds(42));
        await (await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within()).Completed.Within();
        await Api.WaitForNextRequestsAsync(3).Within();

        Assert.Equal(["init", "request", "freezing", "thaw", "request", "freezing"], observer.Events);
        Assert.Equal([TimeSpan.FromSeconds(42)], observer.IdleTimes);
    }

    [Fact]
    public async Task An_observer_that_fails_between_invocations_is_logged_and_the_observers_after_it_still_run()
    {
        // A pool observer failing must not cost the telemetry flush registered after it (or the reverse).
        var logs = new TestLogs();
        var failing = new RecordingObserver { FailBetweenInvocations = true };
        var next = new RecordingObserver();
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", () => "ok"), services: services =>
        {
            services.AddSingleton<ILambdaLifecycleObserver>(failing);
            services.AddSingleton<ILambdaLifecycleObserver>(next);
        }, logs: logs);

        await (await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within()).Completed.Within();
        await (await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within()).Completed.Within();
        await Api.WaitForNextRequestsAsync(3).Within();

        Assert.Equal(["init", "freezing", "thaw", "freezing"], failing.Events);
        Assert.Equal(["init", "freezing", "thaw", "freezing"], next.Events);
        Assert.Equal(3, logs.Entries.Count(e => e.Level == LogLevel.Error && e.Message.StartsWith("A lifecycle observer failed in", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task With_several_loops_thaw_and_freeze_hooks_are_not_called()
    {
        var observer = new RecordingObserver();
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", () => "ok"),
            options => options.MaxConcurrency = 2,
            services: services => services.AddSingleton<ILambdaLifecycleObserver>(observer));

        await (await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within()).Completed.Within();
        await (await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within()).Completed.Within();
        await Api.WaitForNextRequestsAsync(4).Within();

        Assert.Equal(["init"], observer.Events);
    }

    [Fact]
    public async Task Work_the_app_leaves_running_does_not_hold_the_invocation_open()
    {
        var background = new TaskCompletionSource();
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", () =>
        {
            _ = Task.Run(async () => await background.Task);
            return "answered";
        }));

        var first = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await first.Completed.Within();
        await Api.WaitForNextRequestsAsync(2).Within();

        Assert.False(background.Task.IsCompleted);
        background.SetResult();
    }

    [Fact]
    public async Task A_failing_init_hook_is_reported_to_init_error_and_fails_the_start()
    {
        var observer = new RecordingObserver { FailInit = true };
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            TestApp.StartAsync(Api, _ => { }, services: services => services.AddSingleton<ILambdaLifecycleObserver>(observer)));

        var report = await Api.InitError.Task.Within();
        Assert.Equal("InvalidOperationException", report.Headers["Lambda-Runtime-Function-Error-Type"]);
        Assert.Contains("init failed on purpose", report.BodyText, StringComparison.Ordinal);
        Assert.Equal("init failed on purpose", error.Message);
        Assert.Equal(0, Api.NextRequests);
    }

    [Fact]
    public async Task SnapStart_runs_the_snapshot_hooks_around_restore_next()
    {
        var observer = new RecordingObserver();
        var start = TestApp.StartAsync(Api, app => app.MapGet("/", () => "ok"),
            services: services => services.AddSingleton<ILambdaLifecycleObserver>(observer),
            settings: new LambdaServerSettings { RuntimeApiEndpoint = Api.Endpoint, InitializationType = "snap-start" });

        await Api.RestoreRequested.Task.Within();
        Assert.Equal(["init", "before-snapshot"], observer.Events);
        Api.Restore.SetResult();
        App = await start;

        Assert.Equal(["init", "before-snapshot", "after-restore"], observer.Events);
        await (await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within()).Completed.Within();
    }

    [Fact]
    public async Task Four_concurrent_loops_interleave_and_answer_each_invocation_correctly()
    {
        var started = new ConcurrentDictionary<string, TaskCompletionSource>();
        var release = new ConcurrentDictionary<string, TaskCompletionSource>();
        App = await TestApp.StartAsync(Api, app => app.MapGet("/{name}", async (HttpContext context, string name) =>
        {
            await context.Response.WriteAsync($"{name}:start;");
            started.GetOrAdd(name, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).SetResult();
            await release.GetOrAdd(name, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task.Within();
            await context.Response.WriteAsync($"{name}:end:{context.GetLambdaInvocation()!.AwsRequestId}");
        }), options => options.MaxConcurrency = 4);

        var names = new[] { "a", "b", "c", "d" };
        var invocations = names.ToDictionary(n => n, n => Api.Enqueue(TestEvents.FunctionUrl(path: "/" + n)));
        foreach (var name in names)
        {
            await started.GetOrAdd(name, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task.Within();
        }

        // All four are in flight at once; finish them in reverse order.
        foreach (var name in names.Reverse())
        {
            release.GetOrAdd(name, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).SetResult();
            var answer = await invocations[name].Answer.Within();
            await answer.ReadPreludeAsync().Within();
            Assert.Equal($"{name}:start;{name}:end:{invocations[name].RequestId}", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
        }

        Assert.Equal(4, Api.ConnectionCount);
    }

    [Fact]
    public async Task Buffered_mode_posts_one_JSON_document()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", (HttpContext context) =>
        {
            context.Response.Cookies.Append("a", "1");
            return Results.Text("hello", "text/plain");
        }), options => options.InvokeMode = LambdaInvokeMode.Buffered);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        Assert.False(answer.IsStreaming);
        Assert.False(answer.Request.Headers.ContainsKey("Transfer-Encoding"));
        var document = System.Text.Json.JsonDocument.Parse(answer.Request.Body).RootElement;
        Assert.Equal(200, document.GetProperty("statusCode").GetInt32());
        Assert.Equal("hello", document.GetProperty("body").GetString());
        Assert.False(document.GetProperty("isBase64Encoded").GetBoolean());
        Assert.Equal(["a=1; path=/"], document.GetProperty("cookies").EnumerateArray().Select(c => c.GetString()));
    }

    [Fact]
    public async Task Buffered_mode_answers_an_exception_with_a_clean_500()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async (HttpContext context) =>
        {
            await context.Response.WriteAsync("partial");
            throw new InvalidOperationException("boom");
        }), options => options.InvokeMode = LambdaInvokeMode.Buffered);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        var document = System.Text.Json.JsonDocument.Parse(answer.Request.Body).RootElement;
        Assert.Equal(500, document.GetProperty("statusCode").GetInt32());
        Assert.DoesNotContain("partial", answer.Request.BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Buffered_mode_reports_a_response_that_is_too_large()
    {
        App = await TestApp.StartAsync(Api, app =>
        {
            app.MapGet("/", async (HttpContext context) =>
            {
                var block = new byte[1024 * 1024];
                for (var i = 0; i < 7; i++)
                {
                    await context.Response.Body.WriteAsync(block);
                }
            });
            app.MapGet("/ok", () => "ok");
        }, options => options.InvokeMode = LambdaInvokeMode.Buffered);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        Assert.Equal("error", answer.Action);
        Assert.Equal("LambdaStreaming.ResponseTooLarge", answer.Request.Headers["Lambda-Runtime-Function-Error-Type"]);
        var next = await Api.Enqueue(TestEvents.FunctionUrl(path: "/ok")).Answer.Within();
        await next.Completed.Within();
        Assert.Equal("response", next.Action);
    }

    [Fact]
    public async Task Buffered_mode_answers_an_injected_header_with_a_500()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", (HttpContext context) =>
        {
            context.Response.Headers["X-Bad"] = "a\r\nSet-Cookie: injected=1";
            return "body";
        }), options => options.InvokeMode = LambdaInvokeMode.Buffered);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        var document = System.Text.Json.JsonDocument.Parse(answer.Request.Body).RootElement;
        Assert.Equal(500, document.GetProperty("statusCode").GetInt32());
        Assert.DoesNotContain("injected", answer.Request.BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_load_balancer_event_while_streaming_gets_a_buffered_answer()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", () => "from alb"));

        var answer = await Api.Enqueue(TestEvents.Alb()).Answer.Within();
        await answer.Completed.Within();

        Assert.False(answer.IsStreaming);
        var document = System.Text.Json.JsonDocument.Parse(answer.Request.Body).RootElement;
        Assert.Equal(200, document.GetProperty("statusCode").GetInt32());
        Assert.Equal("from alb", document.GetProperty("body").GetString());
        Assert.Equal("200 OK", document.GetProperty("statusDescription").GetString());
    }

    private sealed class RecordingObserver : ILambdaLifecycleObserver
    {
        public ConcurrentQueue<string> Events { get; } = new();

        public bool FailInit { get; init; }

        public bool FailBetweenInvocations { get; init; }

        public ValueTask OnInitAsync(CancellationToken cancellationToken)
        {
            Events.Enqueue("init");
            return FailInit ? throw new InvalidOperationException("init failed on purpose") : ValueTask.CompletedTask;
        }

        public ConcurrentQueue<TimeSpan> IdleTimes { get; } = new();

        public ValueTask OnThawAsync(TimeSpan idleTime, CancellationToken cancellationToken)
        {
            IdleTimes.Enqueue(idleTime);
            Events.Enqueue("thaw");
            return FailBetweenInvocations ? throw new InvalidOperationException("thaw failed on purpose") : ValueTask.CompletedTask;
        }

        public ValueTask OnFreezingAsync(CancellationToken cancellationToken)
        {
            Events.Enqueue("freezing");
            return FailBetweenInvocations ? throw new InvalidOperationException("freezing failed on purpose") : ValueTask.CompletedTask;
        }

        public ValueTask OnBeforeSnapshotAsync(CancellationToken cancellationToken)
        {
            Events.Enqueue("before-snapshot");
            return ValueTask.CompletedTask;
        }

        public ValueTask OnAfterRestoreAsync(CancellationToken cancellationToken)
        {
            Events.Enqueue("after-restore");
            return ValueTask.CompletedTask;
        }
    }
}
