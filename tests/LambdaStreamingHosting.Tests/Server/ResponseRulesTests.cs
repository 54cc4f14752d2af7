using System.Text;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>Kestrel's response rules on the Lambda server: start, read-only headers, bodyless responses, errors.</summary>
public sealed class ResponseRulesTests : IAsyncLifetime
{
    private readonly FakeRuntimeApi _api = new();
    private readonly TestLogs _logs = new();
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _observed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _app;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _release.TrySetResult();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        await _api.DisposeAsync();
    }

    [Fact]
    public async Task After_the_start_headers_and_status_are_read_only_and_HasStarted_is_true()
    {
        await StartAsync(app => app.MapGet("/", async context =>
        {
            var before = context.Response.HasStarted;
            await context.Response.StartAsync();
            var header = Assert.Throws<InvalidOperationException>(() => context.Response.Headers["X-Late"] = "1");
            var status = Assert.Throws<InvalidOperationException>(() => context.Response.StatusCode = 404);
            _observed.SetResult($"{before} {context.Response.HasStarted}");
            await context.Response.WriteAsync("body");
        }));

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        var prelude = await answer.ReadPreludeAsync().Within();
        Assert.Equal("False True", await _observed.Task.Within());
        Assert.Equal(200, prelude.GetProperty("statusCode").GetInt32());
        Assert.False(prelude.GetProperty("headers").TryGetProperty("X-Late", out _));
        Assert.Equal("body", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
    }

    [Theory]
    [InlineData("GET", "/no-content", 204)]
    [InlineData("GET", "/not-modified", 304)]
    [InlineData("HEAD", "/head", 200)]
    public async Task Bodyless_responses_end_the_stream_at_start_without_waiting_for_the_app(string method, string path, int status)
    {
        await StartAsync(app =>
        {
            app.MapGet("/no-content", async context =>
            {
                context.Response.StatusCode = 204;
                await context.Response.StartAsync();
                await _release.Task.Within();
            });
            app.MapGet("/not-modified", async context =>
            {
                context.Response.StatusCode = 304;
                await context.Response.StartAsync();
                await _release.Task.Within();
            });
            app.MapMethods("/head", ["HEAD"], async context =>
            {
                context.Response.ContentType = "text/plain";
                await context.Response.WriteAsync("dropped for HEAD");
                await _release.Task.Within();
            });
        });

        var answer = await _api.Enqueue(TestEvents.FunctionUrl(method, path)).Answer.Within();

        // The stream is complete while the app is still waiting.
        await answer.Completed.Within();
        var prelude = await answer.ReadPreludeAsync().Within();
        Assert.Equal(status, prelude.GetProperty("statusCode").GetInt32());
        Assert.Empty(await answer.ReadBodyToEndAsync().Within());
        Assert.EndsWith("\r\n0\r\n\r\n", Encoding.UTF8.GetString(answer.RawChunkedBody), StringComparison.Ordinal);
        Assert.Single(answer.ChunkSizes);
        _release.SetResult();
    }

    [Fact]
    public async Task A_redirect_sends_prelude_and_delimiter_and_ends()
    {
        await StartAsync(app => app.MapGet("/", () => Results.Redirect("/elsewhere")));

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        var prelude = await answer.ReadPreludeAsync().Within();
        await answer.Completed.Within();

        Assert.Equal(302, prelude.GetProperty("statusCode").GetInt32());
        Assert.Equal("/elsewhere", prelude.GetProperty("headers").GetProperty("Location").GetString());
        Assert.Empty(await answer.ReadBodyToEndAsync().Within());
    }

    [Theory]
    [InlineData(204, false)]
    [InlineData(205, false)]
    [InlineData(304, false)]
    [InlineData(204, true)]
    public async Task Writing_a_body_before_the_start_of_a_bodyless_status_throws_like_Kestrel(int status, bool bodyWriter)
    {
        await StartAsync(app => app.MapGet("/", async context =>
        {
            context.Response.StatusCode = status;
            var error = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            {
                if (bodyWriter)
                {
                    await context.Response.BodyWriter.WriteAsync("nope"u8.ToArray());
                }
                else
                {
                    await context.Response.Body.WriteAsync("nope"u8.ToArray());
                }
            });
            _observed.SetResult(error.Message);
        }));

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        Assert.Equal($"Writing to the response body is invalid for responses with status code {status}.", await _observed.Task.Within());
        var prelude = await answer.ReadPreludeAsync().Within();
        Assert.Equal(status, prelude.GetProperty("statusCode").GetInt32());
        Assert.Empty(await answer.ReadBodyToEndAsync().Within());
        await answer.Completed.Within();
        Assert.Empty(answer.Trailers);
    }

    [Fact]
    public async Task Writing_a_body_to_a_204_throws_like_Kestrel()
    {
        await StartAsync(app => app.MapGet("/", async context =>
        {
            context.Response.StatusCode = 204;
            await context.Response.StartAsync();
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.Response.WriteAsync("nope"));
            _observed.SetResult(error.Message);
        }));

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        Assert.Contains("204", await _observed.Task.Within(), StringComparison.Ordinal);
        await answer.Completed.Within();
        Assert.Empty(answer.Trailers);
    }

    [Fact]
    public async Task An_exception_before_the_prelude_becomes_a_500_without_details()
    {
        await StartAsync(app => app.MapGet("/", context =>
        {
            context.Response.Headers["X-Before"] = "1";
            throw new InvalidOperationException("secret detail");
        }));

        var invocation = _api.Enqueue(TestEvents.FunctionUrl());
        var answer = await invocation.Answer.Within();
        var prelude = await answer.ReadPreludeAsync().Within();
        var body = Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within());

        Assert.Equal(500, prelude.GetProperty("statusCode").GetInt32());
        Assert.DoesNotContain("secret", prelude.GetRawText(), StringComparison.Ordinal);
        Assert.False(prelude.TryGetProperty("headers", out var headers) && headers.TryGetProperty("X-Before", out _));
        Assert.Empty(body);
        Assert.Empty(answer.Trailers);
        var logged = Assert.Single(_logs.Entries, e => e.Exception?.Message == "secret detail");
        Assert.Contains(logged.Scopes, s => s?.ToString() == "AwsRequestId:" + invocation.RequestId);
    }

    [Fact]
    public async Task An_exception_before_the_prelude_shows_details_when_the_option_says_so()
    {
        await StartAsync(app => app.MapGet("/", string () => throw new InvalidOperationException("visible detail")),
            options => options.IncludeExceptionDetails = true);

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        var prelude = await answer.ReadPreludeAsync().Within();
        var body = Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within());

        Assert.Equal(500, prelude.GetProperty("statusCode").GetInt32());
        Assert.Contains("visible detail", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_exception_after_the_prelude_ends_the_stream_with_the_error_trailers()
    {
        await StartAsync(app => app.MapGet("/", async context =>
        {
            await context.Response.WriteAsync("partial;");
            await context.Response.Body.WriteAsync("unflushed;"u8.ToArray());
            throw new InvalidOperationException("mid-stream failure");
        }));

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.ReadPreludeAsync().Within();
        var body = Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within());
        await answer.Completed.Within();

        Assert.Equal("partial;unflushed;", body);

        // Named by the exception's type, as Lambda's own runtimes report errors; its message only with details on.
        Assert.Equal("InvalidOperationException", answer.Trailers["Lambda-Runtime-Function-Error-Type"]);
        var error = answer.TrailerError;
        Assert.Equal("InvalidOperationException", error.GetProperty("errorType").GetString());
        Assert.DoesNotContain("mid-stream failure", error.GetRawText(), StringComparison.Ordinal);
        Assert.Empty(error.GetProperty("stackTrace").EnumerateArray());
        Assert.EndsWith("\r\n0\r\nLambda-Runtime-Function-Error-Type: InvalidOperationException\r\nLambda-Runtime-Function-Error-Body: " +
            answer.Trailers["Lambda-Runtime-Function-Error-Body"] + "\r\n\r\n", Encoding.UTF8.GetString(answer.RawChunkedBody), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_error_trailer_carries_the_exception_when_details_are_on()
    {
        await StartAsync(app => app.MapGet("/", async context =>
        {
            await context.Response.WriteAsync("partial;");
            throw new TimeoutException("upstream timed out");
        }), options => options.IncludeExceptionDetails = true);

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        Assert.Equal("TimeoutException", answer.Trailers["Lambda-Runtime-Function-Error-Type"]);
        Assert.Equal("upstream timed out", answer.TrailerError.GetProperty("errorMessage").GetString());
        Assert.NotEmpty(answer.TrailerError.GetProperty("stackTrace").EnumerateArray());
    }

    [Fact]
    public async Task An_exception_handler_cannot_append_to_a_started_response()
    {
        await StartAsync(app =>
        {
            app.UseExceptionHandler(handler => handler.Run(context => context.Response.WriteAsync("ERROR PAGE")));
            app.MapGet("/", async context =>
            {
                await context.Response.WriteAsync("partial;");
                throw new InvalidOperationException("boom");
            });
        }, services: services => services.AddProblemDetails());

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.ReadPreludeAsync().Within();
        var body = Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within());

        Assert.Equal("partial;", body);
        Assert.True(answer.Trailers.ContainsKey("Lambda-Runtime-Function-Error-Type"));
    }

    [Fact]
    public async Task An_exception_handler_still_answers_errors_before_the_start()
    {
        await StartAsync(app =>
        {
            app.UseExceptionHandler(handler => handler.Run(context => context.Response.WriteAsync("ERROR PAGE")));
            app.MapGet("/", string () => throw new InvalidOperationException("boom"));
        }, services: services => services.AddProblemDetails());

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        var prelude = await answer.ReadPreludeAsync().Within();

        Assert.Equal(500, prelude.GetProperty("statusCode").GetInt32());
        Assert.Equal("ERROR PAGE", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
        Assert.Empty(answer.Trailers);
    }

    [Theory]
    [InlineData("X-Bad", "a\r\nSet-Cookie: injected=1")]
    [InlineData("X-Bad", "nul\0byte")]
    [InlineData("X-Bad\r\nInjected", "1")]
    public async Task Header_injection_cannot_reach_the_prelude(string name, string value)
    {
        await StartAsync(app => app.MapGet("/", async context =>
        {
            context.Response.Headers[name] = value;
            await context.Response.WriteAsync("body");
        }));

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        var prelude = await answer.ReadPreludeAsync().Within();

        Assert.Equal(500, prelude.GetProperty("statusCode").GetInt32());
        Assert.DoesNotContain("injected", prelude.GetRawText(), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Injected", prelude.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_status_code_becomes_a_500()
    {
        await StartAsync(app => app.MapGet("/", async context =>
        {
            context.Response.StatusCode = 1000;
            await context.Response.WriteAsync("body");
        }));

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        var prelude = await answer.ReadPreludeAsync().Within();
        Assert.Equal(500, prelude.GetProperty("statusCode").GetInt32());
    }

    [Fact]
    public async Task OnStarting_runs_before_the_prelude_last_registered_first()
    {
        await StartAsync(app => app.MapGet("/", async context =>
        {
            context.Response.OnStarting(() =>
            {
                context.Response.Headers["X-Order"] = context.Response.Headers["X-Order"] + "first-registered;";
                return Task.CompletedTask;
            });
            context.Response.OnStarting(() =>
            {
                context.Response.Headers["X-Order"] = context.Response.Headers["X-Order"] + "second-registered;";
                return Task.CompletedTask;
            });
            await context.Response.WriteAsync("body");
        }));

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        var prelude = await answer.ReadPreludeAsync().Within();
        Assert.Equal("second-registered;first-registered;", prelude.GetProperty("headers").GetProperty("X-Order").GetString());
    }

    [Fact]
    public async Task Synchronous_writes_throw_unless_allowed()
    {
        await StartAsync(app => app.MapGet("/", async context =>
        {
            var error = Assert.Throws<InvalidOperationException>(() => context.Response.Body.Write("sync"u8));
            context.Features.GetRequiredFeature<IHttpBodyControlFeature>().AllowSynchronousIO = true;
            context.Response.Body.Write("sync;"u8);
            context.Response.Body.Flush();
            _observed.SetResult(error.Message);
            await context.Response.WriteAsync("async");
        }));

        var answer = await _api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.ReadPreludeAsync().Within();
        Assert.Equal("sync;async", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
        Assert.Contains("AllowSynchronousIO", await _observed.Task.Within(), StringComparison.Ordinal);
    }

    private async Task StartAsync(Action<WebApplication> map, Action<LambdaStreamingOptions>? configure = null, Action<IServiceCollection>? services = null) =>
        _app = await TestApp.StartAsync(_api, map, configure, services, logs: _logs);
}
