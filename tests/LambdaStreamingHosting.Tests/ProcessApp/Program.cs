using LambdaStreamingHosting;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddLambdaStreaming();
if (Environment.GetEnvironmentVariable("PROCESS_APP_FAIL_START") == "1")
{
    builder.Services.AddHostedService<FailingStart>();
}

var app = builder.Build();
app.MapGet("/", () => $"served by process {Environment.ProcessId}");

// Logging: each endpoint answers with the invocation's request id, so a test can find the lines it logged.
var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ProcessApp");
app.MapGet("/log/entries", (HttpContext context) =>
{
    log.LogInformation("Greeting {Name}, visit {Visit}", "Ada", 3);
    log.LogWarning("Careful with {Thing} at {Temperature} degrees", "the kettle", 99.5);
    var invocation = context.GetLambdaInvocation()!;
    return $"{invocation.AwsRequestId} {invocation.TraceId}";
});
app.MapGet("/log/exception", (HttpContext context) =>
{
    try
    {
        Fail();
    }
    catch (InvalidOperationException exception)
    {
        log.LogError(exception, "The order {OrderId} failed", 42);
    }

    return context.GetLambdaInvocation()!.AwsRequestId;
});
app.MapGet("/log/multiline", (HttpContext context) =>
{
    log.LogWarning("first line\nsecond line\r\nthird line");
    return context.GetLambdaInvocation()!.AwsRequestId;
});

// Many lines, logged at the last moment of the invocation (after the response ended, just before the next /next):
// the test reads them while the process is frozen after the invocation.
app.MapGet("/log/many", (HttpContext context, int count) =>
{
    var requestId = context.GetLambdaInvocation()!.AwsRequestId;
    context.Response.OnCompleted(() =>
    {
        for (var i = 1; i <= count; i++)
        {
            log.LogInformation("Line {Number} of {Count}: {Padding}", i, count, new string('x', 100));
        }

        log.LogInformation("Done with {RequestId}", requestId);
        return Task.CompletedTask;
    });
    return requestId;
});

// Shutdown: streams a first line, then waits until the request is aborted (or, ignoring it, forever).
app.MapGet("/stream/until-aborted", async (HttpContext context) =>
{
    context.Response.ContentType = "text/plain";
    context.RequestAborted.Register(() => log.LogWarning("RequestAborted fired for {RequestId}", context.GetLambdaInvocation()!.AwsRequestId));
    await context.Response.WriteAsync("first\n");
    await context.Response.Body.FlushAsync();
    await Task.Delay(Timeout.Infinite, context.RequestAborted);
});
app.MapGet("/stream/ignoring-abort", async (HttpContext context) =>
{
    context.Response.ContentType = "text/plain";
    await context.Response.WriteAsync("first\n");
    await context.Response.Body.FlushAsync();
    await Task.Delay(Timeout.Infinite, CancellationToken.None);
});

// Blocking app code under several loops: each /block/until-released streams a line, then holds its thread-pool thread
// (as synchronous I/O or sync-over-async does) until /block/release; /threads reports the pool's minimum.
var blockGate = new ManualResetEventSlim();
app.MapGet("/block/until-released", async (HttpContext context) =>
{
    await context.Response.WriteAsync("blocked\n");
    await context.Response.Body.FlushAsync();
    blockGate.Wait();
    await context.Response.WriteAsync("released\n");
});
app.MapGet("/block/release", () =>
{
    blockGate.Set();
    return "released";
});
app.MapGet("/threads", () =>
{
    ThreadPool.GetMinThreads(out var workers, out _);
    return $"minimum {workers}";
});

app.Lifetime.ApplicationStopped.Register(() => log.LogInformation("The host stopped"));
app.Run();

static void Fail() => throw new InvalidOperationException("the warehouse is closed");

/// <summary>A hosted service that fails the host's start, as a broken dependency would.</summary>
internal sealed class FailingStart : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => throw new InvalidOperationException("the database is unreachable");

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
