using System.Text;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// Stopping the host (what <c>SIGTERM</c> does, see <c>LambdaLoggerProcessTests</c> for the real signal): no more
/// events are taken, an invocation in flight may finish until <c>HostOptions.ShutdownTimeout</c>, and one still
/// running then is aborted as Kestrel aborts its connections: <c>RequestAborted</c> fires and the invocation ends with
/// <c>LambdaStreaming.Shutdown</c> (the error trailers once the response started: a cut stream must not look complete).
/// </summary>
public sealed class ShutdownTests : FakeRuntimeApiTest
{
    private readonly TestLogs _logs = new();

    [Fact]
    public async Task An_invocation_that_finishes_within_the_shutdown_timeout_ends_cleanly_and_no_event_is_taken_after_it()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await StartAsync(TimeSpan.FromSeconds(30), app => app.MapGet("/", async (HttpContext context) =>
        {
            await context.Response.WriteAsync("first;");
            await context.Response.Body.FlushAsync();
            await release.Task;
            await context.Response.WriteAsync("last");
        }));
        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.ReadPreludeAsync().Within();
        await answer.ReadBodyUntilAsync("first;").Within();

        var stop = App.StopAsync();
        Assert.False(stop.IsCompleted);
        release.SetResult();
        await stop.Within();

        Assert.Equal("first;last", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
        await answer.Completed.Within();
        Assert.Empty(answer.Trailers);
        Assert.Equal(1, Api.NextRequests);
    }

    [Fact]
    public async Task A_stream_still_running_at_the_shutdown_timeout_gets_RequestAborted_and_ends_with_the_shutdown_error_trailers()
    {
        var sawAbort = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await StartAsync(TimeSpan.FromMilliseconds(100), app => app.MapGet("/", async (HttpContext context) =>
        {
            context.RequestAborted.Register(sawAbort.SetResult);
            await context.Response.WriteAsync("first;");
            await context.Response.Body.FlushAsync();
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }));
        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.ReadPreludeAsync().Within();
        await answer.ReadBodyUntilAsync("first;").Within();

        await App.StopAsync().Within();

        await sawAbort.Task.Within();
        await answer.Completed.Within();
        Assert.Equal("first;", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
        Assert.Equal("LambdaStreaming.Shutdown", answer.Trailers["Lambda-Runtime-Function-Error-Type"]);
        Assert.Equal("LambdaStreaming.Shutdown", answer.TrailerError.GetProperty("errorType").GetString());
        Assert.Contains(_logs.Entries, entry => entry.Level == LogLevel.Warning && entry.Message.Contains("1 invocation(s) in flight are aborted", StringComparison.Ordinal));

        // The cancellation the abort caused is not reported as a failure of the app.
        Assert.DoesNotContain(_logs.Entries, entry => entry.Level >= LogLevel.Error);
    }

    [Theory]
    [InlineData(LambdaInvokeMode.ResponseStream)]
    [InlineData(LambdaInvokeMode.Buffered)]
    public async Task An_invocation_aborted_at_shutdown_before_its_response_started_fails_with_the_shutdown_error(LambdaInvokeMode mode)
    {
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await StartAsync(TimeSpan.FromMilliseconds(100), app => app.MapGet("/", async (HttpContext context) =>
        {
            running.SetResult();
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }), mode);
        var invocation = Api.Enqueue(TestEvents.FunctionUrl());
        await running.Task.Within();

        await App.StopAsync().Within();

        var answer = await invocation.Answer.Within();
        await answer.Completed.Within();
        Assert.Equal("error", answer.Action);
        Assert.Equal("LambdaStreaming.Shutdown", answer.Request.Headers["Lambda-Runtime-Function-Error-Type"]);
    }

    [Fact]
    public async Task An_app_that_ignores_RequestAborted_does_not_hold_the_host_past_the_abort_grace()
    {
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource();
        App = await StartAsync(TimeSpan.FromMilliseconds(100), app => app.MapGet("/", async (HttpContext context) =>
        {
            await context.Response.WriteAsync("first;");
            await context.Response.Body.FlushAsync();
            running.SetResult();
            await never.Task;
        }));
        Api.Enqueue(TestEvents.FunctionUrl());
        await running.Task.Within();

        await App.StopAsync().Within();

        Assert.Contains(_logs.Entries, entry => entry.Message.Contains("did not end within 500 ms", StringComparison.Ordinal));
        await App.DisposeAsync();
        App = null;
    }

    [Fact]
    public async Task Stopping_while_waiting_for_the_next_event_ends_at_once()
    {
        App = await StartAsync(TimeSpan.FromSeconds(30), app => app.MapGet("/", () => "ok"));
        await Api.WaitForNextRequestsAsync(1).Within();

        await App.StopAsync().Within();

        Assert.DoesNotContain(_logs.Entries, entry => entry.Level >= LogLevel.Warning);
    }

    [Theory]
    [InlineData(30_000, 150)]
    [InlineData(5_000, 5_000)]
    [InlineData(100, 100)]
    public void Inside_Lambda_the_host_s_default_shutdown_timeout_becomes_Lambda_s_and_one_the_app_chose_stays(int configuredMilliseconds, int expectedMilliseconds)
    {
        var options = new HostOptions { ShutdownTimeout = TimeSpan.FromMilliseconds(configuredMilliseconds) };

        LambdaStreamingHosting.Server.LambdaServer.UseLambdaShutdownTimeout(options);

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMilliseconds), options.ShutdownTimeout);
    }

    private Task<WebApplication> StartAsync(TimeSpan shutdownTimeout, Action<WebApplication> map, LambdaInvokeMode mode = LambdaInvokeMode.ResponseStream) =>
        TestApp.StartAsync(
            Api,
            map,
            options => options.InvokeMode = mode,
            services => services.Configure<HostOptions>(host => host.ShutdownTimeout = shutdownTimeout),
            logs: _logs);
}
