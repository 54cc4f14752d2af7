using System.Text;
using System.Text.Json;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>Per-invocation behaviour: request mapping into features, the invocation feature, deadline, abort, bad events.</summary>
public sealed class InvocationTests : FakeRuntimeApiTest
{
    private readonly TestLogs _logs = new();

    [Fact]
    public async Task The_request_reaches_the_app_as_Kestrel_would_present_it()
    {
        App = await TestApp.StartAsync(Api, app => app.MapPost("/items/{id}", async (HttpContext context, string id) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            var connection = context.Connection;
            return Results.Json(new Dictionary<string, string?>
            {
                ["id"] = id,
                ["method"] = context.Request.Method,
                ["scheme"] = context.Request.Scheme,
                ["host"] = context.Request.Host.Value,
                ["query"] = context.Request.QueryString.Value,
                ["cookie"] = context.Request.Headers.Cookie,
                ["a"] = context.Request.Cookies["a"],
                ["body"] = body,
                ["remoteIp"] = connection.RemoteIpAddress?.ToString(),
                ["traceIdentifier"] = context.TraceIdentifier,
                ["canHaveBody"] = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody.ToString(),
            });
        }));

        var invocation = Api.Enqueue(TestEvents.FunctionUrl("POST", "/items/42", "x=1&y=%20", Convert.ToBase64String("binary body"u8), base64: true,
            new Dictionary<string, string> { ["content-type"] = "application/octet-stream" }, ["a=1", "b=2"]));
        var answer = await invocation.Answer.Within();
        await answer.ReadPreludeAsync().Within();
        var json = JsonDocument.Parse(await answer.ReadBodyToEndAsync().Within()).RootElement;

        Assert.Equal("42", json.GetProperty("id").GetString());
        Assert.Equal("POST", json.GetProperty("method").GetString());
        Assert.Equal("https", json.GetProperty("scheme").GetString());
        Assert.Equal("abc.lambda-url.eu-west-1.on.aws", json.GetProperty("host").GetString());
        Assert.Equal("?x=1&y=%20", json.GetProperty("query").GetString());
        Assert.Equal("a=1; b=2", json.GetProperty("cookie").GetString());
        Assert.Equal("1", json.GetProperty("a").GetString());
        Assert.Equal("binary body", json.GetProperty("body").GetString());
        Assert.Equal("203.0.113.7", json.GetProperty("remoteIp").GetString());
        Assert.Equal(invocation.RequestId, json.GetProperty("traceIdentifier").GetString());
        Assert.Equal("True", json.GetProperty("canHaveBody").GetString());
    }

    [Fact]
    public async Task The_invocation_feature_carries_the_Runtime_API_headers_and_the_raw_event()
    {
        var clock = new FakeTimeProvider();
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", (HttpContext context) =>
        {
            var lambda = context.GetLambdaInvocation()!;
            return Results.Json(new Dictionary<string, object?>
            {
                ["requestId"] = lambda.AwsRequestId,
                ["deadline"] = lambda.Deadline.ToUnixTimeMilliseconds(),
                ["remainingMs"] = lambda.RemainingTime.TotalMilliseconds,
                ["arn"] = lambda.InvokedFunctionArn,
                ["trace"] = lambda.TraceId,
                ["clientContext"] = lambda.ClientContext,
                ["cognito"] = lambda.CognitoIdentity,
                ["tenant"] = lambda.TenantId,
                ["source"] = lambda.EventSource.ToString(),
                ["rawEvent"] = Encoding.UTF8.GetString(lambda.RawEvent.Span),
            });
        }), clock: clock);

        var deadline = clock.GetUtcNow().AddMinutes(2);
        var eventJson = TestEvents.FunctionUrl();
        var invocation = Api.Enqueue(eventJson, "request-1", deadline, new Dictionary<string, string>
        {
            ["Lambda-Runtime-Trace-Id"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            ["Lambda-Runtime-Client-Context"] = """{"client":{"app_title":"t"}}""",
            ["Lambda-Runtime-Cognito-Identity"] = """{"cognitoIdentityId":"id"}""",
            ["Lambda-Runtime-Aws-Tenant-Id"] = "tenant-7",
        });
        var answer = await invocation.Answer.Within();
        await answer.ReadPreludeAsync().Within();
        var json = JsonDocument.Parse(await answer.ReadBodyToEndAsync().Within()).RootElement;

        Assert.Equal("request-1", json.GetProperty("requestId").GetString());
        Assert.Equal(deadline.ToUnixTimeMilliseconds(), json.GetProperty("deadline").GetInt64());
        Assert.Equal(120_000, json.GetProperty("remainingMs").GetDouble()); // on the server's clock, which has not moved
        Assert.Equal("arn:aws:lambda:eu-west-1:123456789012:function:test", json.GetProperty("arn").GetString());
        Assert.Equal("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", json.GetProperty("trace").GetString());
        Assert.Equal("""{"client":{"app_title":"t"}}""", json.GetProperty("clientContext").GetString());
        Assert.Equal("""{"cognitoIdentityId":"id"}""", json.GetProperty("cognito").GetString());
        Assert.Equal("tenant-7", json.GetProperty("tenant").GetString());
        Assert.Equal("FunctionUrl", json.GetProperty("source").GetString());
        Assert.Equal(eventJson, json.GetProperty("rawEvent").GetString());
    }

    [Fact]
    public async Task RequestAborted_fires_the_margin_before_the_deadline()
    {
        var clock = new FakeTimeProvider();
        var waiting = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async (HttpContext context) =>
        {
            waiting.SetResult(context.RequestAborted);
            await context.Response.WriteAsync("started;");
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }

            var left = context.GetLambdaInvocation()!.RemainingTime;
            await context.Response.WriteAsync($"stopped with {(int)left.TotalMilliseconds} ms left");
        }), options => options.DeadlineMargin = TimeSpan.FromSeconds(2), clock: clock);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl(), deadline: clock.GetUtcNow().AddSeconds(3)).Answer.Within();
        var aborted = await waiting.Task.Within(); // the invocation runs: its deadline timer is armed
        await answer.ReadPreludeAsync().Within();

        // The fake clock runs the timer inside Advance: RequestAborted has fired, or not, when Advance returns.
        clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(aborted.IsCancellationRequested);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(aborted.IsCancellationRequested);

        Assert.Equal("started;stopped with 2000 ms left", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
        Assert.Empty(answer.Trailers);
    }

    [Fact]
    public async Task Abort_before_the_start_answers_with_an_invocation_error()
    {
        App = await TestApp.StartAsync(Api, app =>
        {
            MapOk(app);
            app.MapGet("/abort", (HttpContext context) => context.Abort());
        });

        var invocation = Api.Enqueue(TestEvents.FunctionUrl(path: "/abort"));
        var answer = await invocation.Answer.Within();
        await answer.Completed.Within();

        Assert.Equal("error", answer.Action);
        Assert.Equal("LambdaStreaming.RequestAborted", answer.Request.Headers["Lambda-Runtime-Function-Error-Type"]);
        await AssertNextInvocationSucceedsAsync();
    }

    [Fact]
    public async Task Abort_after_the_start_ends_the_stream_with_the_error_trailers()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async (HttpContext context) =>
        {
            await context.Response.WriteAsync("partial;");
            context.Abort();
            await context.Response.WriteAsync("dropped");
        }));

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.ReadPreludeAsync().Within();
        Assert.Equal("partial;", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
        await answer.Completed.Within();
        Assert.Equal("LambdaStreaming.RequestAborted", answer.Trailers["Lambda-Runtime-Function-Error-Type"]);
    }

    [Fact]
    public async Task A_broken_Runtime_API_connection_fires_RequestAborted_and_drops_later_writes_as_Kestrel_does()
    {
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app =>
        {
            MapOk(app);
            app.MapGet("/stream", async (HttpContext context) =>
            {
                try
                {
                    var block = new byte[1024];
                    while (!context.RequestAborted.IsCancellationRequested)
                    {
                        await context.Response.Body.WriteAsync(block);
                        await context.Response.Body.FlushAsync();
                    }

                    // Like Kestrel after the client went away: writes are dropped, nothing throws.
                    await context.Response.WriteAsync("dropped");
                    outcome.TrySetResult("RequestAborted fired");
                }
                catch (Exception ex)
                {
                    outcome.TrySetResult($"{ex.GetType().Name}: {ex.Message}");
                    throw;
                }
            });
        }, logs: _logs);

        var invocation = Api.Enqueue(TestEvents.FunctionUrl(path: "/stream"));
        invocation.BreakConnection();

        Assert.Equal("RequestAborted fired", await outcome.Task.Within());
        await AssertNextInvocationSucceedsAsync();
        Assert.DoesNotContain(_logs.Entries, e => e.Message.Contains("application failed", StringComparison.Ordinal)
            || e.Message.Contains("unhandled exception", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_send_that_fails_in_the_background_fires_RequestAborted_and_is_logged_once_in_the_invocations_scope()
    {
        var behindASend = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app =>
        {
            MapOk(app);
            app.MapGet("/stream", async (HttpContext context) =>
            {
                var body = Assert.IsType<StreamingResponseBodyFeature>(context.Features.Get<IHttpResponseBodyFeature>());
                var piece = new byte[1024];
                long sends;
                do
                {
                    // The reader holds the body: once the socket is full, a send stays in flight and writes queue behind it.
                    sends = body.SendCount;
                    await context.Response.Body.WriteAsync(piece);
                }
                while (body.SendCount > sends);

                behindASend.SetResult();
                try
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    // RequestAborted fired: the app goes on as it would on Kestrel.
                }

                await context.Response.WriteAsync("dropped"); // as on Kestrel after the client went away: no throw
                outcome.SetResult("RequestAborted fired");
            });
        }, options => options.MaxResponseBufferSize = null, logs: _logs);

        var invocation = Api.Enqueue(TestEvents.FunctionUrl(path: "/stream"));
        invocation.DiscardBody = true;
        invocation.HoldBody();
        await behindASend.Task.Within();
        invocation.BreakHeldBody(); // the pending send fails on the socket's thread, not in a write of the app

        Assert.Equal("RequestAborted fired", await outcome.Task.Within());
        await AssertNextInvocationSucceedsAsync();
        var broken = Assert.Single(_logs.Entries, e => e.Message.Contains("connection to the Runtime API broke", StringComparison.Ordinal));
        Assert.Contains(broken.Scopes, scope => scope?.ToString() == "AwsRequestId:" + invocation.RequestId);
    }

    [Fact]
    public async Task A_reply_the_Runtime_API_sent_before_closing_a_stream_is_read_and_logged()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app =>
        {
            MapOk(app);
            app.MapGet("/stream", async (HttpContext context) =>
            {
                var block = new byte[1024];
                while (!context.RequestAborted.IsCancellationRequested)
                {
                    await context.Response.Body.WriteAsync(block);
                    await context.Response.Body.FlushAsync();
                }

                aborted.SetResult();
            });
        }, logs: _logs);

        var invocation = Api.Enqueue(TestEvents.FunctionUrl(path: "/stream"));
        invocation.BreakConnection(earlyReplyStatus: 413);

        await aborted.Task.Within();
        await AssertNextInvocationSucceedsAsync();
        Assert.Contains(_logs.Entries, e => e.Message.Contains("413", StringComparison.Ordinal) && e.Message.Contains("refused early", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_500_the_Runtime_API_sent_before_closing_a_stream_still_stops_the_host()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async (HttpContext context) =>
        {
            var block = new byte[1024];
            while (!context.RequestAborted.IsCancellationRequested)
            {
                await context.Response.Body.WriteAsync(block);
                await context.Response.Body.FlushAsync();
            }
        }));
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        App.Lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());

        Api.Enqueue(TestEvents.FunctionUrl()).BreakConnection(earlyReplyStatus: 500);

        await stopping.Task.Within();
    }

    [Fact]
    public async Task The_request_body_is_not_seekable_like_Kestrel_and_EnableBuffering_rereads_it()
    {
        App = await TestApp.StartAsync(Api, app => app.MapPost("/", async (HttpContext context) =>
        {
            var canSeekBefore = context.Request.Body.CanSeek;
            context.Request.EnableBuffering();
            using var first = new StreamReader(context.Request.Body, leaveOpen: true);
            var firstRead = await first.ReadToEndAsync();
            var afterEnd = await context.Request.Body.ReadAsync(new byte[16]);
            context.Request.Body.Position = 0;
            using var second = new StreamReader(context.Request.Body);
            var secondRead = await second.ReadToEndAsync();
            return $"{canSeekBefore}|{firstRead}|{afterEnd}|{secondRead}";
        }));

        var answer = await Api.Enqueue(TestEvents.FunctionUrl("POST", body: "hello body")).Answer.Within();
        await answer.ReadPreludeAsync().Within();

        Assert.Equal("False|hello body|0|hello body", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
    }

    [Fact]
    public async Task Synchronous_request_body_reads_throw_unless_allowed_as_on_Kestrel()
    {
        App = await TestApp.StartAsync(Api, app => app.MapPost("/", (HttpContext context) =>
        {
            var buffer = new byte[64];
            var refused = Assert.Throws<InvalidOperationException>(() => context.Request.Body.Read(buffer, 0, buffer.Length));
            context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpBodyControlFeature>()!.AllowSynchronousIO = true;
            var read = context.Request.Body.Read(buffer, 0, buffer.Length);
            return $"{refused.Message.Contains("AllowSynchronousIO", StringComparison.Ordinal)}|{Encoding.UTF8.GetString(buffer, 0, read)}";
        }));

        var answer = await Api.Enqueue(TestEvents.FunctionUrl("POST", body: "sync body")).Answer.Within();
        await answer.ReadPreludeAsync().Within();

        Assert.Equal("True|sync body", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
    }

    [Fact]
    public async Task The_max_request_body_size_feature_exists_and_a_lower_limit_answers_413_as_on_Kestrel()
    {
        App = await TestApp.StartAsync(Api, app => app.MapPost("/", async (HttpContext context) =>
        {
            var limit = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()!;
            var readOnlyBefore = limit.IsReadOnly;
            limit.MaxRequestBodySize = int.Parse(context.Request.Query["limit"]!, System.Globalization.CultureInfo.InvariantCulture);
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            return $"{readOnlyBefore}|{limit.IsReadOnly}|{body}";
        }));

        var allowed = await Api.Enqueue(TestEvents.FunctionUrl("POST", query: "limit=10", body: "0123456789")).Answer.Within();
        await allowed.ReadPreludeAsync().Within();
        Assert.Equal("False|True|0123456789", Encoding.UTF8.GetString(await allowed.ReadBodyToEndAsync().Within()));

        var refused = await Api.Enqueue(TestEvents.FunctionUrl("POST", query: "limit=9", body: "0123456789")).Answer.Within();
        var prelude = await refused.ReadPreludeAsync().Within();
        Assert.Equal(413, prelude.GetProperty("statusCode").GetInt32());
    }

    [Theory]
    [InlineData("{not json", "LambdaStreaming.InvalidEventJson")]
    [InlineData("""{"version":"2.0","routeKey":"$default","rawPath":42,"requestContext":{"http":{"method":"GET"}}}""", "LambdaStreaming.InvalidEventField")]
    [InlineData("""{"hello":"world"}""", "LambdaStreaming.UnknownEventShape")]
    [InlineData("[1,2,3]", "LambdaStreaming.UnknownEventShape")]
    public async Task A_malformed_event_becomes_an_error_and_the_next_invocation_succeeds(string eventJson, string errorType)
    {
        App = await TestApp.StartAsync(Api, MapOk, logs: _logs);

        var bad = Api.Enqueue(eventJson);
        var answer = await bad.Answer.Within();
        await answer.Completed.Within();

        Assert.Equal("error", answer.Action);
        Assert.Equal(errorType, answer.Request.Headers["Lambda-Runtime-Function-Error-Type"]);
        var error = JsonDocument.Parse(answer.Request.Body).RootElement;
        Assert.Equal(errorType, error.GetProperty("errorType").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("errorMessage").GetString()));
        await AssertNextInvocationSucceedsAsync();
    }

    [Fact]
    public async Task Bad_base64_becomes_an_error_and_the_next_invocation_succeeds()
    {
        App = await TestApp.StartAsync(Api, MapOk);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl("POST", body: "!!not base64!!", base64: true)).Answer.Within();
        await answer.Completed.Within();

        Assert.Equal("LambdaStreaming.InvalidEventBase64", answer.Request.Headers["Lambda-Runtime-Function-Error-Type"]);
        await AssertNextInvocationSucceedsAsync();
    }

    [Fact]
    public async Task A_refused_answer_is_logged_and_the_loop_goes_on()
    {
        App = await TestApp.StartAsync(Api, MapOk, logs: _logs);

        var refused = Api.Enqueue(TestEvents.FunctionUrl());
        refused.ReplyStatus = 400;
        await (await refused.Answer.Within()).Completed.Within();

        await AssertNextInvocationSucceedsAsync();
        Assert.Contains(_logs.Entries, e => e.Message.Contains("400", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_request_scope_is_disposed_after_the_answer_was_read_and_before_the_next_invocation()
    {
        var disposals = new List<string>();
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", (ScopedProbe probe, HttpContext context) =>
        {
            context.Response.OnCompleted(() =>
            {
                lock (disposals)
                {
                    disposals.Add($"completed:{Api.NextRequests}");
                }

                return Task.CompletedTask;
            });
            probe.OnDispose = () =>
            {
                lock (disposals)
                {
                    disposals.Add($"disposed:{Api.NextRequests}");
                }
            };
            return "ok";
        }), services: services => services.AddScoped<ScopedProbe>());

        var first = Api.Enqueue(TestEvents.FunctionUrl());
        var answer = await first.Answer.Within();
        await answer.Completed.Within();
        await AssertNextInvocationSucceedsAsync();
        await Api.WaitForNextRequestsAsync(3).Within();

        // Both ran while the first invocation's /next was the last one requested (before the next /next).
        lock (disposals)
        {
            Assert.Equal(["completed:1", "disposed:1", "completed:2", "disposed:2"], disposals);
        }
    }

    [Fact]
    public async Task Trace_id_environment_variable_is_set_per_invocation_when_enabled()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", () => Environment.GetEnvironmentVariable("_X_AMZN_TRACE_ID") ?? "unset"),
            settings: new LambdaStreamingHosting.Server.LambdaServerSettings { RuntimeApiEndpoint = Api.Endpoint, SetTraceIdEnvironmentVariable = true });

        var answer = await Api.Enqueue(TestEvents.FunctionUrl(), headers: new Dictionary<string, string> { ["Lambda-Runtime-Trace-Id"] = "Root=1-abc;Sampled=0" }).Answer.Within();
        await answer.ReadPreludeAsync().Within();
        Assert.Equal("Root=1-abc;Sampled=0", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
    }

    private static void MapOk(WebApplication app) => app.MapGet("/", () => "ok");

    private async Task AssertNextInvocationSucceedsAsync()
    {
        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        var prelude = await answer.ReadPreludeAsync().Within();
        Assert.Equal(200, prelude.GetProperty("statusCode").GetInt32());
        Assert.Equal("ok", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
    }

    private sealed class ScopedProbe : IDisposable
    {
        public Action? OnDispose { get; set; }

        public void Dispose() => OnDispose?.Invoke();
    }
}
