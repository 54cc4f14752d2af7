using LambdaStreamingHosting;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddLambdaStreaming();
if (Environment.GetEnvironmentVariable("PROCESS_APP_FAIL_START") == "1")
{
    builder.Services.AddHostedService<FailingStart>();
}

var app = builder.Build();
app.MapGet("/", () => $"served by process {Environment.ProcessId}");
app.Run();

/// <summary>A hosted service that fails the host's start, as a broken dependency would.</summary>
internal sealed class FailingStart : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => throw new InvalidOperationException("the database is unreachable");

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
