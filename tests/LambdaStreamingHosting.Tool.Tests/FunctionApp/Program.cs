using System.Globalization;
using LambdaStreamingHosting;
using LambdaStreamingHosting.Lifecycle;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddLambdaStreaming();
builder.Services.AddSingleton<SnapStartProbe>();
builder.Services.AddSingleton<ILambdaLifecycleObserver>(provider => provider.GetRequiredService<SnapStartProbe>());
var app = builder.Build();

app.MapGet("/", () => $"hello from {Environment.GetEnvironmentVariable("AWS_LAMBDA_FUNCTION_NAME")}");

// The process that served the request: tells a warm invocation from a cold start.
app.MapGet("/pid", () => Environment.ProcessId.ToString(CultureInfo.InvariantCulture));

app.MapGet("/env/{name}", (string name) => Environment.GetEnvironmentVariable(name) ?? "(unset)");

// Streams "first", then waits until the test writes to the named pipe at `gate`, then sends "second": the test sees the
// first line while the response is still open, without relying on timing.
app.MapGet("/stream", async (HttpContext context, string gate) =>
{
    context.Response.ContentType = "text/plain";
    await context.Response.WriteAsync("first\n", context.RequestAborted);
    await context.Response.Body.FlushAsync(context.RequestAborted);
    await File.ReadAllTextAsync(gate, context.RequestAborted);
    await context.Response.WriteAsync("second\n", context.RequestAborted);
});

// Streams `count` lines, each flushed; before each line after the first it waits until the test writes to the named pipe
// at `gate` once more. The test sees every line (and the timeline page every chunk) while the app is blocked.
app.MapGet("/chunks", async (HttpContext context, string gate, int count) =>
{
    context.Response.ContentType = "text/plain";
    for (var line = 1; line <= count; line++)
    {
        if (line > 1)
        {
            await File.ReadAllTextAsync(gate, context.RequestAborted);
        }

        await context.Response.WriteAsync($"chunk {line}\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
});

// Waits for the gate, then writes the whole body in one write at the end, as a buffered answer arrives.
app.MapGet("/block", async (HttpContext context, string gate) =>
{
    await File.ReadAllTextAsync(gate, context.RequestAborted);
    context.Response.ContentType = "text/plain";
    await context.Response.WriteAsync(string.Concat(Enumerable.Repeat("block of text\n", 100)), context.RequestAborted);
});

// Streams a line, then fails: the response is cut and the invocation ends with the function's error.
app.MapGet("/fail", async (HttpContext context) =>
{
    context.Response.ContentType = "text/plain";
    await context.Response.WriteAsync("partial\n", context.RequestAborted);
    await context.Response.Body.FlushAsync(context.RequestAborted);
    throw new InvalidOperationException("The report could not be finished.");
});

// Writes a line to standard output, then waits for the gate: the test opens it once it has seen the line, so the line
// is known to have been written while the invocation ran.
app.MapGet("/log", async (string line, string gate, CancellationToken aborted) =>
{
    Console.WriteLine(line);
    await File.ReadAllTextAsync(gate, aborted);
    return "logged";
});

// What Lambda told the function about the invocation: the ARN it was invoked with and the caller's client context.
app.MapGet("/invocation", (HttpContext context) =>
{
    var invocation = context.GetLambdaInvocation()!;
    return $"{invocation.InvokedFunctionArn}\n{invocation.ClientContext}";
});

// Hangs, ignoring RequestAborted as a stuck dependency would: lets a test drive the emulator's timeout and reset.
app.MapGet("/hang", async () =>
{
    await Task.Delay(Timeout.Infinite);
    return "unreachable";
});

// What SnapStart did to this process: the hooks that ran and the warm-up requests it served before the snapshot.
app.MapGet("/snapstart", (HttpContext context, SnapStartProbe probe) =>
{
    if (context.GetLambdaInvocation()?.IsWarmUp == true)
    {
        probe.WarmUps++;
        return "warm-up";
    }

    return $"init-type:{Environment.GetEnvironmentVariable("AWS_LAMBDA_INITIALIZATION_TYPE")} warm-ups:{probe.WarmUps} hooks:{string.Join(',', probe.Hooks)}";
});

app.Run();

/// <summary>
/// Records the SnapStart hooks; FUNCTIONAPP_AFTER_RESTORE=throw fails the after-restore hook, =hang keeps it from ending,
/// as a stuck dependency would.
/// </summary>
internal sealed class SnapStartProbe : ILambdaLifecycleObserver
{
    public int WarmUps { get; set; }

    public List<string> Hooks { get; } = [];

    public ValueTask OnBeforeSnapshotAsync(CancellationToken cancellationToken)
    {
        Hooks.Add("before-snapshot");
        Console.WriteLine($"before-snapshot ran after {WarmUps} warm-up(s)");
        return ValueTask.CompletedTask;
    }

    public async ValueTask OnAfterRestoreAsync(CancellationToken cancellationToken)
    {
        Hooks.Add("after-restore");
        Console.WriteLine("after-restore ran");
        switch (Environment.GetEnvironmentVariable("FUNCTIONAPP_AFTER_RESTORE"))
        {
            case "throw":
                throw new InvalidOperationException("after-restore failed on purpose");
            case "hang":
                await Task.Delay(Timeout.Infinite, cancellationToken);
                break;
        }
    }
}
