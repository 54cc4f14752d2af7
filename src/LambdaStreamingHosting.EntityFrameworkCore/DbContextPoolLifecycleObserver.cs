using LambdaStreamingHosting.Lifecycle;
using LambdaStreamingHosting.Npgsql;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.EntityFrameworkCore;

/// <summary>
/// Keeps the connection pool behind <typeparamref name="TContext"/> warm and safe across the Lambda lifecycle: opens
/// <see cref="LambdaConnectionPoolOptions.WarmConnections"/> during init and after a SnapStart restore; after a thaw,
/// makes a check of the idle connections due on the context's next open (<see cref="ThawCheckAndOpenRetryInterceptor"/>)
/// or, after an idle gap of <see cref="LambdaConnectionPoolOptions.ThawClearThreshold"/> or more, closes them; closes
/// them before a snapshot.
/// </summary>
/// <typeparam name="TContext">The app's context type, registered with <c>AddDbContextPool</c> or <c>AddDbContext</c>.</typeparam>
internal sealed partial class DbContextPoolLifecycleObserver<TContext>(
    IServiceScopeFactory scopeFactory,
    IOptionsMonitor<LambdaConnectionPoolOptions> optionsMonitor,
    ILogger<DbContextPoolLifecycleObserver<TContext>> logger) : ILambdaLifecycleObserver
    where TContext : DbContext
{
    /// <summary>The name of <typeparamref name="TContext"/>'s options instance.</summary>
    public static string OptionsName { get; } = typeof(TContext).FullName ?? typeof(TContext).Name;

    /// <summary>The thaw state of the context's pool, shared with the context's interceptor.</summary>
    public NpgsqlPoolThawCheck ThawCheck { get; } = new(typeof(TContext).Name, logger);

    /// <summary>The options in force.</summary>
    public LambdaConnectionPoolOptions Options => optionsMonitor.Get(OptionsName);

    public ValueTask OnInitAsync(CancellationToken cancellationToken) => WarmUpAsync(cancellationToken);

    public ValueTask OnThawAsync(TimeSpan idleTime, CancellationToken cancellationToken)
    {
        var options = Options;
        if (options.Enabled)
        {
            ThawCheck.OnThaw(idleTime, options, ClearIdleConnections);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask OnBeforeSnapshotAsync(CancellationToken cancellationToken)
    {
        // Connections captured in a snapshot are dead in every environment restored from it.
        if (Options.Enabled)
        {
            ThawCheck.Cancel();
            if (ClearIdleConnections())
            {
                LogClearedBeforeSnapshot(logger, typeof(TContext).Name);
            }
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask OnAfterRestoreAsync(CancellationToken cancellationToken)
    {
        if (Options.Enabled)
        {
            ThawCheck.Cancel();
            ClearIdleConnections();
            await WarmUpAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Opens the configured number of connections at once, each through its own context, then returns them all to the
    /// pool, where they stay idle and open. Building the first context also builds the EF Core model, off the first
    /// request's path. A database that cannot be reached within <see cref="LambdaConnectionPoolOptions.WarmUpTimeout"/>
    /// is logged and does not fail the init phase; a configuration mistake does.
    /// </summary>
    internal async ValueTask WarmUpAsync(CancellationToken cancellationToken)
    {
        var options = Options;
        if (!options.Enabled || options.WarmConnections == 0)
        {
            return;
        }

        var leases = new List<(AsyncServiceScope Scope, DatabaseFacade Database)>(options.WarmConnections);
        try
        {
            for (var i = 0; i < options.WarmConnections; i++)
            {
                var scope = scopeFactory.CreateAsyncScope();
                leases.Add((scope, GetContext(scope.ServiceProvider).Database));
            }

            if (!leases[0].Database.IsRelational())
            {
                await ReleaseAsync(leases).ConfigureAwait(false);
                return;
            }

            var maxSize = ConnectionPool.MaxSize(leases[0].Database);
            if (maxSize < options.WarmConnections)
            {
                throw new InvalidOperationException(
                    $"{LambdaConnectionPoolOptions.ConfigurationSectionName}:WarmConnections is {options.WarmConnections} but the connection pool of {typeof(TContext).Name} holds at most {maxSize}; " +
                    "lower WarmConnections or raise 'Maximum Pool Size' in the connection string.");
            }
        }
        catch
        {
            await ReleaseAsync(leases).ConfigureAwait(false);
            throw;
        }

        // All connections are held open together, so each is a separate physical connection.
        var opening = Task.WhenAll(leases.Select(l => l.Database.OpenConnectionAsync(cancellationToken)));
        var releasing = ReleaseAfterAsync(opening, leases);
        try
        {
            // A provider may not give up on a silent server before its own connect timeout: stop waiting instead, and
            // let the connections be released whenever the opens end.
            await opening.WaitAsync(options.WarmUpTimeout, cancellationToken).ConfigureAwait(false);
            await releasing.ConfigureAwait(false);
            LogWarmedUp(logger, options.WarmConnections, typeof(TContext).Name);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            LogWarmUpFailed(logger, typeof(TContext).Name, options.WarmUpTimeout.TotalSeconds, exception);
        }
    }

    private static async Task ReleaseAfterAsync(Task opening, List<(AsyncServiceScope Scope, DatabaseFacade Database)> leases)
    {
        try
        {
            await opening.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Reported by the caller.
        }

        try
        {
            await ReleaseAsync(leases).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // The opens outlived the warm-up timeout and the host has stopped since: nothing is left to return.
        }
    }

    private static async Task ReleaseAsync(List<(AsyncServiceScope Scope, DatabaseFacade Database)> leases)
    {
        foreach (var (scope, database) in leases)
        {
            // Closing returns the physical connection to the pool, idle and open; disposing the scope returns the
            // context to its pool.
            if (database.IsRelational())
            {
                await database.CloseConnectionAsync().ConfigureAwait(false);
            }

            await scope.DisposeAsync().ConfigureAwait(false);
        }
    }

    private bool ClearIdleConnections()
    {
        using var scope = scopeFactory.CreateScope();
        var database = GetContext(scope.ServiceProvider).Database;
        return database.IsRelational() && ConnectionPool.ClearIdle(database);
    }

    private static TContext GetContext(IServiceProvider services) =>
        services.GetService<TContext>() ?? throw new InvalidOperationException(
            $"{typeof(TContext).Name} is not registered: call services.AddDbContextPool<{typeof(TContext).Name}>(...) (or AddDbContext) before AddLambdaDbContextLifecycle<{typeof(TContext).Name}>().");

    [LoggerMessage(1, LogLevel.Information, "Opened {Count} warm database connection(s) for {Context}.")]
    private static partial void LogWarmedUp(ILogger logger, int count, string context);

    [LoggerMessage(2, LogLevel.Warning, "Could not open warm database connections for {Context} (warm-up timeout {TimeoutSeconds} s); requests will connect on first use.")]
    private static partial void LogWarmUpFailed(ILogger logger, string context, double timeoutSeconds, Exception exception);

    [LoggerMessage(3, LogLevel.Debug, "Closed the idle pooled database connections of {Context} before the snapshot.")]
    private static partial void LogClearedBeforeSnapshot(ILogger logger, string context);
}
