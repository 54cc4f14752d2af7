using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace LambdaStreamingHosting.OpenTelemetry;

/// <summary>
/// On the Lambda server (inside Lambda, under <c>LambdaApplicationFactory</c>, with <c>AddLambdaServer</c>: what
/// <see cref="LambdaHostingInfo.UsesLambdaServer"/> says), shuts the tracer and meter providers down once the host has stopped, giving them at most
/// <see cref="ExportTimeout"/> together to export what is left (the spans and metrics of an invocation aborted at
/// shutdown; everything before went out before its freeze). OpenTelemetry's providers otherwise do it when the host
/// disposes them, waiting up to 5 s each for a collector that does not answer, while Lambda kills the process 300 ms
/// after <c>SIGTERM</c>: the function was killed instead of exiting 0. Disposing the providers afterwards waits for
/// nothing more. On any other server nothing changes.
/// </summary>
internal sealed class TelemetryShutdown(IServiceProvider services) : IHostedLifecycleService
{
    /// <summary>How long the providers may take, together, to export at shutdown.</summary>
    internal static readonly TimeSpan ExportTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>Whether the providers get <see cref="ExportTimeout"/> at shutdown: the app runs on the Lambda server.</summary>
    internal bool BoundsShutdown => services.GetService<LambdaHostingInfo>()?.UsesLambdaServer == true;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        if (!BoundsShutdown)
        {
            return Task.CompletedTask;
        }

        var milliseconds = (int)ExportTimeout.TotalMilliseconds;
        var deadline = Environment.TickCount64 + milliseconds;
        var shutdowns = new List<Thread>(2);
        if (services.GetService<TracerProvider>() is { } tracer)
        {
            shutdowns.Add(Start(() => tracer.Shutdown(milliseconds), "LambdaStreaming-TraceShutdown"));
        }

        if (services.GetService<MeterProvider>() is { } meter)
        {
            shutdowns.Add(Start(() => meter.Shutdown(milliseconds), "LambdaStreaming-MetricShutdown"));
        }

        foreach (var shutdown in shutdowns)
        {
            // An exporter stuck on its collector is left behind: the process exits without waiting for it.
            shutdown.Join((int)Math.Max(0, deadline - Environment.TickCount64));
        }

        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static Thread Start(Action shutdown, string name)
    {
        var thread = new Thread(() => shutdown()) { IsBackground = true, Name = name };
        thread.Start();
        return thread;
    }
}
