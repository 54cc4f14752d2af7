using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// Each invocation loop reuses its per-request objects (the invocation and its event buffer, the features and their
/// collection, the <c>DefaultHttpContext</c>): an app that leaves every kind of state behind in one invocation (a
/// custom feature, <c>Items</c>, response headers, <c>OnStarting</c>/<c>OnCompleted</c>, <c>User</c>, route values,
/// a replaced body, a body size limit, <c>RequestAborted</c> registrations, request headers it received, added or
/// replaced, the request line and connection values middleware may set),
/// whichever way that invocation ends, is followed by one that sees none of it. A response or request body an app keeps
/// past its invocation fails instead of writing into a later invocation's answer or reading a later request.
/// </summary>
public sealed class ReuseIsolationTests : FakeRuntimeApiTest
{
    private int _onCompletedRuns;
    private int _abortCallbacksRun;
    private HttpContext? _lastContext;
    private Stream? _keptStream;
    private PipeWriter? _keptWriter;
    private IHeaderDictionary? _keptRequestHeaders;
    private Stream? _keptRequestBody;
    private readonly TaskCompletionSource _waitingForDeadline = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static TheoryData<string> Endings => ["return", "throw", "throw-after-start", "abort", "abort-after-start"];

    [Fact]
    public async Task The_next_invocation_gets_the_same_HttpContext_with_nothing_left_of_the_previous_one()
    {
        App = await TestApp.StartAsync(Api, MapTaintAndProbe);

        await TaintAsync("return");
        var first = _lastContext;
        var probe = await ProbeAsync();

        Assert.Same(first, _lastContext);
        AssertPristine(probe);
        Assert.Equal(1, Volatile.Read(ref _onCompletedRuns));
    }

    [Fact]
    public async Task With_IHttpContextAccessor_each_invocation_gets_a_new_clean_HttpContext()
    {
        App = await TestApp.StartAsync(Api, MapTaintAndProbe, services: services => services.AddHttpContextAccessor());

        await TaintAsync("return");
        var first = _lastContext;
        AssertPristine(await ProbeAsync());

        // Hosting does not reuse a context the accessor may still hand out; the old one no longer sees any features.
        Assert.NotSame(first, _lastContext);
        Assert.Throws<ObjectDisposedException>(() => first!.Features);
    }

    [Theory]
    [MemberData(nameof(Endings))]
    public async Task Nothing_of_an_invocation_survives_however_it_ended(string ending)
    {
        App = await TestApp.StartAsync(Api, MapTaintAndProbe);

        await TaintAsync(ending);
        AssertPristine(await ProbeAsync());
        AssertPristine(await ProbeAsync());
        Assert.Equal(1, Volatile.Read(ref _onCompletedRuns));
    }

    [Fact]
    public async Task Nothing_survives_an_invocation_that_ran_into_its_deadline()
    {
        var clock = new FakeTimeProvider();
        App = await TestApp.StartAsync(Api, MapTaintAndProbe, options => options.DeadlineMargin = TimeSpan.FromSeconds(2), clock: clock);

        // RequestAborted fires a second into the invocation; the app gives up and returns.
        var invocation = Api.Enqueue(TestEvents.FunctionUrl(path: "/taint/deadline"), deadline: clock.GetUtcNow().AddSeconds(3));
        await _waitingForDeadline.Task.Within();
        clock.Advance(TimeSpan.FromSeconds(1));
        await (await invocation.Answer.Within()).Completed.Within();

        AssertPristine(await ProbeAsync());
        Assert.Equal(1, Volatile.Read(ref _onCompletedRuns));
    }

    [Fact]
    public async Task The_deadline_of_an_invocation_that_ended_early_never_aborts_the_next()
    {
        var clock = new FakeTimeProvider();
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var look = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app =>
        {
            app.MapGet("/", () => "ok");

            // Outlives the previous invocation's abort time (its deadline minus the margin) before looking.
            app.MapGet("/outlive", async (HttpContext context) =>
            {
                running.SetResult();
                await look.Task;
                return context.RequestAborted.IsCancellationRequested ? "aborted" : "alive";
            });
        }, options => options.DeadlineMargin = TimeSpan.FromSeconds(2), clock: clock);

        var early = await Api.Enqueue(TestEvents.FunctionUrl(), deadline: clock.GetUtcNow().AddSeconds(2.5)).Answer.Within();
        await early.Completed.Within();
        var invocation = Api.Enqueue(TestEvents.FunctionUrl(path: "/outlive"));
        await running.Task.Within();
        clock.Advance(TimeSpan.FromSeconds(1.5)); // a second past the first invocation's abort time
        look.SetResult();
        var next = await invocation.Answer.Within();
        await next.ReadPreludeAsync().Within();

        Assert.Equal("alive", Encoding.UTF8.GetString(await next.ReadBodyToEndAsync().Within()));
    }

    [Fact]
    public async Task Nothing_survives_around_a_malformed_event()
    {
        App = await TestApp.StartAsync(Api, MapTaintAndProbe);

        await TaintAsync("return");
        var bad = await Api.Enqueue("{not json").Answer.Within();
        await bad.Completed.Within();
        Assert.Equal("error", bad.Action);

        AssertPristine(await ProbeAsync());
    }

    [Fact]
    public async Task A_RequestAborted_registration_of_one_invocation_never_fires_for_a_later_abort()
    {
        App = await TestApp.StartAsync(Api, MapTaintAndProbe);

        await TaintAsync("return");
        var abort = await Api.Enqueue(TestEvents.FunctionUrl(path: "/abort")).Answer.Within();
        await abort.Completed.Within();
        Assert.Equal("error", abort.Action);

        // After a cancelled RequestAborted, the next invocation starts with a live one.
        AssertPristine(await ProbeAsync());
        Assert.Equal(0, Volatile.Read(ref _abortCallbacksRun));
    }

    [Fact]
    public async Task With_several_loops_each_loop_hands_out_clean_requests()
    {
        const int loops = 3;
        var tainting = 0;
        var allTainting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app =>
        {
            MapTaintAndProbe(app);

            // Each loop holds one of these until all loops hold one: then every loop has left state behind.
            app.MapGet("/taint-together", async (HttpContext context) =>
            {
                Taint(context);
                if (Interlocked.Increment(ref tainting) == loops)
                {
                    allTainting.SetResult();
                }

                await allTainting.Task.WaitAsync(TestApp.Timeout);
                return "tainted";
            });
        }, options => options.MaxConcurrency = loops);

        var taints = Enumerable.Range(0, loops).Select(_ => Api.Enqueue(TestEvents.FunctionUrl(path: "/taint-together"))).ToList();
        foreach (var taint in taints)
        {
            await (await taint.Answer.Within()).Completed.Within();
        }

        var probes = Enumerable.Range(0, loops * 4).Select(_ => ProbeAsync()).ToList();
        foreach (var probe in probes)
        {
            AssertPristine(await probe);
        }

        Assert.Equal(loops, Volatile.Read(ref _onCompletedRuns));
    }

    [Fact]
    public async Task A_huge_event_is_not_kept_once_its_invocation_is_over()
    {
        var bigEvent = new TaskCompletionSource<WeakReference>(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app =>
        {
            app.MapPost("/big", async (HttpContext context) =>
            {
                bigEvent.SetResult(WeakEventArray(context));
                using var reader = new StreamReader(context.Request.Body);
                return (await reader.ReadToEndAsync()).Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            });
            app.MapGet("/", () => "ok");
        });
        Api.KeepHistory = false;

        const int bodySize = 6 * 1024 * 1024;
        var big = await Api.Enqueue(TestEvents.FunctionUrl("POST", "/big", body: new string('a', bodySize))).Answer.Within();
        await big.ReadPreludeAsync().Within();
        Assert.Equal(bodySize.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetString(await big.ReadBodyToEndAsync().Within()));
        var small = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await small.ReadPreludeAsync().Within();
        Assert.Equal("ok", Encoding.UTF8.GetString(await small.ReadBodyToEndAsync().Within()));
        await small.Completed.Within();
        await Api.WaitForNextRequestsAsync(3).Within();

        // The loop waits for its third invocation: the 6 MB event's array must be garbage by now.
        var array = await bigEvent.Task.Within();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(array.IsAlive, "the 6 MB event's buffer is still referenced after its invocation ended");
    }

    [Theory]
    [InlineData(LambdaInvokeMode.ResponseStream)]
    [InlineData(LambdaInvokeMode.Buffered)]
    public async Task A_response_body_kept_past_its_invocation_fails_and_never_reaches_a_later_answer(LambdaInvokeMode mode)
    {
        App = await TestApp.StartAsync(Api, MapKeepAndReuse, options => options.InvokeMode = mode);

        var first = await Api.Enqueue(TestEvents.FunctionUrl(path: "/keep", headers: new Dictionary<string, string> { ["x-first"] = "1" })).Answer.Within();
        Assert.Equal("first", await BodyTextAsync(first));
        await Api.WaitForNextRequestsAsync(2).Within();

        // Between invocations: the kept body refuses writes, the kept request headers are empty.
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await _keptStream!.WriteAsync("late"u8.ToArray()));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await _keptWriter!.WriteAsync("late"u8.ToArray()));
        Assert.Empty(_keptRequestHeaders!);

        // During the next invocation: the kept body still refuses, and the next answer carries only its own bytes.
        var second = await Api.Enqueue(TestEvents.FunctionUrl(path: "/write-kept")).Answer.Within();
        Assert.Equal("second: stream refused, writer refused", await BodyTextAsync(second));
        var third = await Api.Enqueue(TestEvents.FunctionUrl(path: "/keep")).Answer.Within();
        Assert.Equal("first", await BodyTextAsync(third));
    }

    [Fact]
    public async Task A_request_body_kept_past_its_invocation_never_reads_a_later_request_body()
    {
        App = await TestApp.StartAsync(Api, app =>
        {
            // Keeps Request.Body without reading it, then reads its own body: the loop must not reuse the kept stream.
            app.MapPost("/keep", async (HttpContext context) =>
            {
                _keptRequestBody = context.Request.Body;
                using var reader = new StreamReader(context.Request.Body);
                return await reader.ReadToEndAsync();
            });
            app.MapPost("/read-kept", async (HttpContext context) =>
            {
                var buffer = new byte[64];
                var kept = await RefusesAsync(async () => await _keptRequestBody!.ReadAtLeastAsync(buffer, 1, throwOnEndOfStream: false));
                using var reader = new StreamReader(context.Request.Body);
                return $"kept {kept}, own {await reader.ReadToEndAsync()}";
            });
        });

        var first = await Api.Enqueue(TestEvents.FunctionUrl("POST", "/keep", body: "first secret")).Answer.Within();
        Assert.Equal("first secret", await BodyTextAsync(first));
        await Api.WaitForNextRequestsAsync(2).Within();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await _keptRequestBody!.ReadAtLeastAsync(new byte[64], 1, throwOnEndOfStream: false));

        var second = await Api.Enqueue(TestEvents.FunctionUrl("POST", "/read-kept", body: "second secret")).Answer.Within();
        Assert.Equal("kept refused, own second secret", await BodyTextAsync(second));
        var third = await Api.Enqueue(TestEvents.FunctionUrl("POST", "/keep", body: "third")).Answer.Within();
        Assert.Equal("third", await BodyTextAsync(third));
    }

    [Fact]
    public async Task Streamed_and_buffered_answers_alternating_on_one_loop_stay_apart()
    {
        // An ALB event is always answered buffered, a Function URL event streams: one loop uses both bodies in turn.
        App = await TestApp.StartAsync(Api, MapKeepAndReuse);

        for (var i = 0; i < 3; i++)
        {
            var streamed = await Api.Enqueue(TestEvents.FunctionUrl(path: "/keep")).Answer.Within();
            Assert.True(streamed.IsStreaming);
            Assert.Equal("first", await BodyTextAsync(streamed));
            var buffered = await Api.Enqueue(TestEvents.Alb(path: "/write-kept")).Answer.Within();
            Assert.False(buffered.IsStreaming);
            Assert.Equal("second: stream refused, writer refused", await BodyTextAsync(buffered));
        }
    }

    [Fact]
    public async Task Request_headers_of_one_invocation_are_absent_from_the_next()
    {
        App = await TestApp.StartAsync(Api, app =>
        {
            app.MapGet("/add", (HttpContext context) =>
            {
                context.Request.Headers["X-Added-By-App"] = "1";
                ((HeaderDictionary)context.Request.Headers).IsReadOnly = true;
                return "added";
            });
            app.MapGet("/headers", (HttpContext context) => string.Join(",", context.Request.Headers.Keys.Order(StringComparer.OrdinalIgnoreCase)));
        });

        var taint = await Api.Enqueue(TestEvents.FunctionUrl(path: "/add", headers: new Dictionary<string, string> { ["x-first"] = "1" }, cookies: ["a=1"])).Answer.Within();
        Assert.Equal("added", await BodyTextAsync(taint));
        var next = await Api.Enqueue(TestEvents.FunctionUrl(path: "/headers")).Answer.Within();

        Assert.Equal("host,user-agent,x-forwarded-for,x-forwarded-port,x-forwarded-proto", (await BodyTextAsync(next)).ToLowerInvariant());
    }

    /// <summary>The answer's body as text: the streamed body, or the <c>body</c> of the buffered document.</summary>
    private static async Task<string> BodyTextAsync(FakeAnswer answer)
    {
        if (answer.IsStreaming)
        {
            await answer.ReadPreludeAsync().Within();
            return Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within());
        }

        await answer.Completed.Within();
        var document = JsonDocument.Parse(answer.Request.Body).RootElement;
        var body = document.GetProperty("body").GetString() ?? "";
        return document.TryGetProperty("isBase64Encoded", out var base64) && base64.GetBoolean()
            ? Encoding.UTF8.GetString(Convert.FromBase64String(body))
            : body;
    }

    /// <summary><c>/keep</c> keeps its body stream, body writer and request headers; <c>/write-kept</c> tries the kept body.</summary>
    private void MapKeepAndReuse(WebApplication app)
    {
        app.MapGet("/keep", async (HttpContext context) =>
        {
            _keptStream = context.Response.Body;
            _keptWriter = context.Response.BodyWriter;
            _keptRequestHeaders = context.Request.Headers;
            await context.Response.WriteAsync("first");
        });
        app.MapGet("/write-kept", async (HttpContext context) =>
        {
            var stream = await RefusesAsync(() => _keptStream!.WriteAsync("evil"u8.ToArray()).AsTask());
            var writer = await RefusesAsync(async () => await _keptWriter!.WriteAsync("evil"u8.ToArray()));
            await context.Response.WriteAsync($"second: stream {stream}, writer {writer}");
        });
    }

    private static async Task<string> RefusesAsync(Func<Task> write)
    {
        try
        {
            await write();
            return "wrote";
        }
        catch (ObjectDisposedException)
        {
            return "refused";
        }
    }

    /// <summary>The array under the invocation's raw event, referenced weakly only (not inlined, so no local keeps it).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference WeakEventArray(HttpContext context)
    {
        var raw = context.GetLambdaInvocation()!.RawEvent;
        Assert.True(MemoryMarshal.TryGetArray(raw, out var segment));
        Assert.True(segment.Array!.Length >= 6 * 1024 * 1024);
        return new WeakReference(segment.Array);
    }

    private static void AssertPristine(JsonElement probe)
    {
        foreach (var property in probe.EnumerateObject())
        {
            Assert.True(property.Value.ValueKind == JsonValueKind.True, $"{property.Name} was not clean: {probe}");
        }
    }

    /// <summary>Leaves every kind of per-request state behind.</summary>
    private void Taint(HttpContext context)
    {
        _lastContext = context;
        context.Features.Set(new TaintFeature());
        context.Items["taint"] = true;
        context.Response.StatusCode = 418;
        context.Response.Headers["X-Taint"] = "1";
        context.Response.OnStarting(() =>
        {
            context.Response.Headers["X-Taint-Starting"] = "1";
            return Task.CompletedTask;
        });
        context.Response.OnCompleted(() =>
        {
            Interlocked.Increment(ref _onCompletedRuns);
            return Task.CompletedTask;
        });
        context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "taint")], "test"));
        context.TraceIdentifier = "taint";
        context.Features.Get<IHttpMaxRequestBodySizeFeature>()!.MaxRequestBodySize = 1;
        context.Request.Body = new MemoryStream("taint"u8.ToArray());
        context.RequestAborted.Register(() => Interlocked.Increment(ref _abortCallbacksRun));
        context.Request.Headers["X-Added-By-App"] = "1";

        // What middleware may set on the request and connection (a path base, forwarded headers, a method override).
        var request = context.Features.Get<IHttpRequestFeature>()!;
        request.RawTarget = "/taint";
        (request.Scheme, request.Protocol, request.Method) = ("http", "HTTP/2", "TAINT");
        (request.PathBase, request.Path, request.QueryString) = ("/taint-base", "/tainted", "?taint=1");
        request.Headers = new HeaderDictionary { ["X-Replaced-By-App"] = "1" };
        var connection = context.Features.Get<IHttpConnectionFeature>()!;
        (connection.RemoteIpAddress, connection.RemotePort) = (IPAddress.Parse("198.51.100.1"), 1);
        (connection.LocalIpAddress, connection.LocalPort, connection.ConnectionId) = (IPAddress.Loopback, 2, "taint");
    }

    private void MapTaintAndProbe(WebApplication app)
    {
        app.MapGet("/taint/{ending}", async (HttpContext context, string ending) =>
        {
            Taint(context);
            switch (ending)
            {
                case "throw":
                    throw new InvalidOperationException("taint");
                case "throw-after-start":
                    await context.Response.WriteAsync("partial");
                    throw new InvalidOperationException("taint");
                case "abort":
                    context.Abort();
                    return;
                case "abort-after-start":
                    await context.Response.WriteAsync("partial");
                    context.Abort();
                    return;
                case "deadline":
                    var aborted = Task.Delay(Timeout.Infinite, context.RequestAborted);
                    _waitingForDeadline.TrySetResult();
                    await aborted.ContinueWith(_ => { }, TaskScheduler.Default);
                    return;
                default:
                    await context.Response.WriteAsync("tainted");
                    return;
            }
        });
        app.MapGet("/abort", (HttpContext context) => context.Abort());
        app.MapPost("/probe", async (HttpContext context) =>
        {
            _lastContext = context;
            var response = context.Features.Get<IHttpResponseFeature>()!;
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            return Results.Json(new Dictionary<string, bool>
            {
                ["noCustomFeature"] = context.Features.Get<TaintFeature>() is null,
                ["noTaintRequestHeaders"] = !context.Request.Headers.ContainsKey("X-Added-By-App") && !context.Request.Headers.ContainsKey("x-taint-request")
                    && !context.Request.Headers.ContainsKey("X-Replaced-By-App")
                    && !context.Request.Headers.ContainsKey(Microsoft.Net.Http.Headers.HeaderNames.Cookie),
                ["noItems"] = context.Items.Count == 0,
                ["status200"] = context.Response.StatusCode == 200,
                ["noResponseHeaders"] = context.Response.Headers.Count == 0,
                ["headersWritable"] = !context.Response.Headers.IsReadOnly,
                ["notStarted"] = !response.HasStarted,
                ["anonymous"] = context.User.Identity?.IsAuthenticated != true && context.User.FindFirst(ClaimTypes.Name) is null,
                ["ownTraceIdentifier"] = context.TraceIdentifier == context.GetLambdaInvocation()!.AwsRequestId,
                ["noBodyLimit"] = context.Features.Get<IHttpMaxRequestBodySizeFeature>()!.MaxRequestBodySize is null,
                ["ownBody"] = body == "probe body",
                ["ownRouteValues"] = context.Request.RouteValues.Count == 0,
                ["ownRawTarget"] = context.Features.Get<IHttpRequestFeature>()!.RawTarget == "/probe",
                ["ownRequestLine"] = context.Request is { Scheme: "https", Protocol: "HTTP/1.1", Method: "POST", PathBase.Value: "", Path.Value: "/probe", QueryString.Value: "" },
                ["ownConnection"] = context.Connection is { LocalIpAddress: null, RemotePort: 0, LocalPort: 443 }
                    && context.Connection.RemoteIpAddress?.ToString() == "203.0.113.7" && context.Connection.Id == context.GetLambdaInvocation()!.AwsRequestId,
                ["ownEndpoint"] = context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: "/probe" },
                ["notAborted"] = !context.RequestAborted.IsCancellationRequested,
                ["ownRawEvent"] = Encoding.UTF8.GetString(context.GetLambdaInvocation()!.RawEvent.Span).Contains("\"/probe\"", StringComparison.Ordinal),
            });
        });
    }

    private async Task TaintAsync(string ending)
    {
        var answer = await Api.Enqueue(TestEvents.FunctionUrl(path: "/taint/" + ending, headers: new Dictionary<string, string> { ["x-taint-request"] = "1" }, cookies: ["taint=1"])).Answer.Within();
        await answer.Completed.Within();
    }

    /// <summary>Runs the probe; its answer must carry none of the taint's headers either.</summary>
    private async Task<JsonElement> ProbeAsync()
    {
        var answer = await Api.Enqueue(TestEvents.FunctionUrl("POST", "/probe", body: "probe body")).Answer.Within();
        var prelude = await answer.ReadPreludeAsync().Within();
        var body = await answer.ReadBodyToEndAsync().Within();
        Assert.Equal(200, prelude.GetProperty("statusCode").GetInt32());
        var headers = prelude.GetProperty("headers");
        Assert.False(headers.TryGetProperty("x-taint", out _) || headers.TryGetProperty("X-Taint", out _), prelude.ToString());
        Assert.False(headers.TryGetProperty("x-taint-starting", out _) || headers.TryGetProperty("X-Taint-Starting", out _), prelude.ToString());
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private sealed class TaintFeature;
}
