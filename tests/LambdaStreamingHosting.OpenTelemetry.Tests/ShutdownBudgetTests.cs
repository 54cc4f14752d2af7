using System.Diagnostics;
using LambdaStreamingHosting.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace LambdaStreamingHosting.OpenTelemetry.Tests;

/// <summary>
/// Whether the providers get Lambda's shutdown budget is the server's answer, not the environment's: a host on the
/// Lambda server without <c>AWS_LAMBDA_RUNTIME_API</c> (as under <c>LambdaApplicationFactory</c>, which calls the same
/// <c>AddLambdaServer</c>) shuts its tracer provider down with at most 100 ms when it stops, while a host on Kestrel
/// leaves the provider to OpenTelemetry, which shuts it down when the host is disposed, with its own timeout.
/// </summary>
public sealed class ShutdownBudgetTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task On_the_Lambda_server_without_the_Lambda_environment_variable_the_providers_get_Lambdas_budget_when_the_host_stops()
    {
        Assert.True(string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_LAMBDA_RUNTIME_API")));
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions());
        var recorder = new ShutdownRecorder();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddLambdaStreaming();
        builder.Services.AddLambdaServer(emulator.RuntimeApiEndpoint);
        AddTracing(builder, recorder);
        await using var app = builder.Build();
        await app.StartAsync();

        Assert.True(app.Services.GetRequiredService<LambdaHostingInfo>().UsesLambdaServer);
        await app.StopAsync();

        // Shut down by the package when the host stopped (on a thread of its own, which may finish after the bound).
        var timeout = await recorder.ShutdownTimeout.WaitAsync(Generous);
        Assert.InRange(timeout, 0, (int)TelemetryShutdown.ExportTimeout.TotalMilliseconds);
    }

    [Fact]
    public async Task On_Kestrel_the_providers_are_left_to_OpenTelemetrys_own_shutdown()
    {
        var recorder = new ShutdownRecorder();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddLambdaStreaming();
        AddTracing(builder, recorder);
        var app = builder.Build();
        await app.StartAsync();

        Assert.False(app.Services.GetRequiredService<LambdaHostingInfo>().UsesLambdaServer);
        await app.StopAsync();
        Assert.False(recorder.ShutdownTimeout.IsCompleted);

        await app.DisposeAsync();
        var timeout = await recorder.ShutdownTimeout.WaitAsync(Generous);
        Assert.True(timeout > TelemetryShutdown.ExportTimeout.TotalMilliseconds, $"OpenTelemetry shut the provider down with {timeout} ms.");
    }

    private static void AddTracing(WebApplicationBuilder builder, ShutdownRecorder recorder) =>
        builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddLambdaStreamingInstrumentation().AddProcessor(recorder));

    /// <summary>A tracer provider's processor that records the time it was given to shut down in, the first time.</summary>
    private sealed class ShutdownRecorder : BaseProcessor<Activity>
    {
        private readonly TaskCompletionSource<int> _shutdown = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<int> ShutdownTimeout => _shutdown.Task;

        protected override bool OnShutdown(int timeoutMilliseconds)
        {
            _shutdown.TrySetResult(timeoutMilliseconds);
            return true;
        }
    }
}
