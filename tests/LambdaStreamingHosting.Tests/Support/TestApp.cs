using LambdaStreamingHosting.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>
/// A real ASP.NET Core app whose server is the Lambda server, taking requests from a <see cref="FakeRuntimeApi"/>; with a
/// <c>clock</c> (a <c>FakeTimeProvider</c>), the server and the fake keep time on it, so a test moves deadlines and idle
/// gaps instead of waiting for them.
/// </summary>
internal static class TestApp
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static async Task<WebApplication> StartAsync(
        FakeRuntimeApi api,
        Action<WebApplication> map,
        Action<LambdaStreamingOptions>? configure = null,
        Action<IServiceCollection>? services = null,
        LambdaServerSettings? settings = null,
        ILoggerProvider? logs = null,
        IEnumerable<KeyValuePair<string, string?>>? configuration = null,
        TimeProvider? clock = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(configuration ?? []);
        builder.Logging.ClearProviders();
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
        }

        builder.Services.AddLambdaStreaming(configure);
        if (clock is not null)
        {
            // The fake's deadlines and the server's deadlines and idle times on one clock the test moves.
            api.Clock = clock;
        }

        builder.Services.AddLambdaServer(settings ?? new LambdaServerSettings { RuntimeApiEndpoint = api.Endpoint, EndpointOverridesOptions = true, Time = clock ?? TimeProvider.System });
        services?.Invoke(builder.Services);
        var app = builder.Build();
        map(app);
        await app.StartAsync().WaitAsync(Timeout);
        return app;
    }

    /// <summary>Waits for a task with the tests' generous timeout, so a broken test fails instead of hanging.</summary>
    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Timeout);

    /// <inheritdoc cref="Within{T}(Task{T})"/>
    public static Task Within(this Task task) => task.WaitAsync(Timeout);
}
