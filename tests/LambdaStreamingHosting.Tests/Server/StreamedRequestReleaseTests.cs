using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// The streamed <c>/response</c> is released on every path: the answer fails at each step (before the app runs, while
/// the app streams, when the Runtime API refuses the stream early, answers 500 or cuts its reply short), and once the
/// host is gone every connection the function opened to the Runtime API is closed. A request left holding its
/// connection would keep it open (the fake sees it as open until the function closes it).
/// </summary>
public sealed class StreamedRequestReleaseTests : IAsyncLifetime
{
    private readonly FakeRuntimeApi _api = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _api.DisposeAsync();

    [Theory]
    [InlineData("hosting fails to create the context (nothing sent)")]
    [InlineData("the app throws after streaming (error trailers)")]
    [InlineData("the app aborts before starting (/error instead)")]
    [InlineData("the Runtime API refuses the stream early (413, then closes)")]
    [InlineData("the Runtime API answers 500 (fatal)")]
    [InlineData("the Runtime API cuts its reply short (fatal)")]
    public async Task Every_connection_is_closed_after_the_answer_failed(string step)
    {
        var app = await TestApp.StartAsync(_api, app => app.MapGet("/", async (HttpContext context) =>
        {
            switch (step)
            {
                case "the app throws after streaming (error trailers)":
                    await context.Response.WriteAsync("partial;");
                    throw new InvalidOperationException("after the start");
                case "the app aborts before starting (/error instead)":
                    context.Abort();
                    return;
                default:
                    await context.Response.WriteAsync("hello");
                    return;
            }
        }), services: services =>
        {
            if (step.StartsWith("hosting fails", StringComparison.Ordinal))
            {
                services.RemoveAll<IHttpContextFactory>();
                services.AddSingleton<IHttpContextFactory, FailingContextFactory>();
            }
        });
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        app.Lifetime.ApplicationStopping.Register(() => stopped.TrySetResult());
        try
        {
            var invocation = _api.Enqueue(TestEvents.FunctionUrl());
            switch (step)
            {
                case "the Runtime API refuses the stream early (413, then closes)":
                    invocation.BreakConnection(earlyReplyStatus: 413);
                    break;
                case "the Runtime API answers 500 (fatal)":
                    invocation.ReplyStatus = 500;
                    break;
                case "the Runtime API cuts its reply short (fatal)":
                    invocation.CutReply();
                    break;
            }

            if (step.Contains("(fatal)", StringComparison.Ordinal) || step.StartsWith("hosting fails", StringComparison.Ordinal))
            {
                // The loop ends and the host stops itself.
                await stopped.Task.Within();
            }
            else if (step.Contains("early", StringComparison.Ordinal))
            {
                // Whether the loop goes on depends on when the function sees the close; either way nothing may stay open.
                await invocation.Answer.Within();
            }
            else
            {
                await invocation.Answer.Within();

                // The loop went on: the next invocation is served on a connection of its own or the one given back.
                var next = _api.Enqueue(TestEvents.FunctionUrl());
                await (await next.Answer.Within()).Completed.Within();
            }
        }
        finally
        {
            await app.StopAsync().Within();
            await app.DisposeAsync();
        }

        try
        {
            await _api.WaitForAllConnectionsClosedAsync().Within();
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{_api.OpenConnections} of {_api.ConnectionCount} connections are still open; requests: {string.Join(", ", _api.RequestLines)}");
        }
    }

    /// <summary>Hosting's context factory failing, as a broken diagnostic listener or factory would, before the app runs.</summary>
    private sealed class FailingContextFactory : IHttpContextFactory
    {
        public HttpContext Create(IFeatureCollection featureCollection) => throw new InvalidOperationException("The context cannot be created.");

        public void Dispose(HttpContext httpContext)
        {
        }
    }
}
