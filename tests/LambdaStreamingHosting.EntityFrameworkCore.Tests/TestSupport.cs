using LambdaStreamingHosting.Npgsql;
using System.Collections.Concurrent;
using LambdaStreamingHosting.Lifecycle;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.EntityFrameworkCore.Tests;

/// <summary>A context with no entities: the tests only need its connection.</summary>
public sealed class PidContext(DbContextOptions<PidContext> options) : DbContext(options)
{
    /// <summary>The server process serving this context's connection (PostgreSQL).</summary>
    public Task<int> BackendPidAsync(CancellationToken cancellationToken = default) =>
        Database.SqlQuery<int>($"SELECT pg_backend_pid() AS \"Value\"").SingleAsync(cancellationToken);
}

/// <summary>
/// An app's services as the tests need them: a pooled <see cref="PidContext"/> plus the integration, with
/// configuration and captured logs. Its lifecycle methods call the registered observers the way the Lambda server
/// does between invocations.
/// </summary>
public sealed class TestApp : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    public TestApp(
        Action<DbContextOptionsBuilder> useDatabase,
        Action<LambdaConnectionPoolOptions>? configure = null,
        IDictionary<string, string?>? configuration = null,
        Action<IServiceCollection>? moreServices = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.AddProvider(Logs).SetMinimumLevel(LogLevel.Debug));
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(configuration ?? new Dictionary<string, string?>()).Build());
        moreServices?.Invoke(services);
        services.AddDbContextPool<PidContext>(useDatabase);
        services.AddLambdaDbContextLifecycle<PidContext>(configure);
        _services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
    }

    public CapturedLogs Logs { get; } = new();

    public IServiceProvider Services => _services;

    private IEnumerable<ILambdaLifecycleObserver> Observers => _services.GetServices<ILambdaLifecycleObserver>();

    /// <summary>One request: a scope, a pooled context, one query, then the scope is disposed.</summary>
    public async Task<int> InvokeAsync(CancellationToken cancellationToken = default)
    {
        await using var scope = _services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<PidContext>().BackendPidAsync(cancellationToken);
    }

    public async Task InitAsync()
    {
        foreach (var observer in Observers)
        {
            await observer.OnInitAsync(CancellationToken.None);
        }
    }

    public async Task FreezingAsync()
    {
        foreach (var observer in Observers)
        {
            await observer.OnFreezingAsync(CancellationToken.None);
        }
    }

    public async Task ThawAsync(TimeSpan idleTime)
    {
        foreach (var observer in Observers)
        {
            await observer.OnThawAsync(idleTime, CancellationToken.None);
        }
    }

    public async Task BeforeSnapshotAsync()
    {
        foreach (var observer in Observers)
        {
            await observer.OnBeforeSnapshotAsync(CancellationToken.None);
        }
    }

    public async Task AfterRestoreAsync()
    {
        foreach (var observer in Observers)
        {
            await observer.OnAfterRestoreAsync(CancellationToken.None);
        }
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}

/// <summary>Log lines written through the app's loggers, for assertions.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Category, string Message)> _entries = new();

    public IReadOnlyCollection<(LogLevel Level, string Category, string Message)> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs logs, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            logs._entries.Enqueue((logLevel, category, formatter(state, exception)));
    }
}
