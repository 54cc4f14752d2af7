using LambdaStreamingHosting.Lifecycle;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LambdaStreamingHosting.Npgsql;

/// <summary>
/// The check after a Lambda thaw of one Npgsql connection pool, for an integration that knows when the pool is next
/// used: <c>AddLambdaDbContextLifecycle&lt;TContext&gt;()</c> (package LambdaStreamingHosting.EntityFrameworkCore) runs
/// it on a context's first connection open after a thaw. An app needs none of it:
/// <c>AddLambdaNpgsqlDataSourceLifecycle()</c> runs it for the app's <see cref="NpgsqlDataSource"/> at the thaw.
/// <para>
/// After a thaw shorter than <see cref="LambdaConnectionPoolOptions.ThawClearThreshold"/> the pool's idle connections
/// are due for a check (<see cref="OnThaw"/>). The check (<see cref="RunIfDueAsync"/>) sends each idle connection one
/// round trip, an empty statement that runs nothing: one the server closed is discarded, one that does not answer
/// within the timeout is given up and the pool cleared, a healthy one is kept. After a longer thaw the idle connections
/// are closed outright. Connections in use are never touched, and no command of the app runs or is retried. Outcomes are
/// logged (event ids 101–104). Thread-safe: concurrent callers share one check.
/// </para>
/// </summary>
public sealed partial class NpgsqlPoolThawCheck
{
    private readonly Lock _lock = new();
    private readonly string _poolName;
    private readonly ILogger _logger;
    private bool _due;
    private Task _lastCheck = Task.CompletedTask;

    /// <summary>Creates the thaw state of one pool, with no check due.</summary>
    /// <param name="poolName">How log messages name the pool (a context's type name, for example).</param>
    /// <param name="logger">Where the outcome of each check is logged.</param>
    public NpgsqlPoolThawCheck(string poolName, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(poolName);
        ArgumentNullException.ThrowIfNull(logger);
        _poolName = poolName;
        _logger = logger;
    }

    /// <summary>Whether a check is due: the process thawed and the pool was neither checked nor cleared since.</summary>
    public bool IsDue
    {
        get
        {
            lock (_lock)
            {
                return _due;
            }
        }
    }

    /// <summary>
    /// To call when the process thaws (<see cref="ILambdaLifecycleObserver.OnThawAsync"/>): after an idle gap of
    /// <see cref="LambdaConnectionPoolOptions.ThawClearThreshold"/> or more, closes the pool's idle connections through
    /// <paramref name="clearPool"/>; after a shorter one, makes a check due.
    /// </summary>
    /// <param name="idleTime">How long the process was idle (frozen) before this invocation.</param>
    /// <param name="options">The options in force.</param>
    /// <param name="clearPool">Closes the pool's idle connections; returns <see langword="false"/> when there was no pool to clear.</param>
    /// <returns>Whether the pool was cleared (then no check is due).</returns>
    public bool OnThaw(TimeSpan idleTime, LambdaConnectionPoolOptions options, Func<bool> clearPool)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clearPool);
        if (idleTime >= options.ThawClearThreshold)
        {
            Cancel();
            if (clearPool())
            {
                LogCleared(_logger, _poolName, idleTime.TotalSeconds);
            }

            return true;
        }

        lock (_lock)
        {
            _due = true;
        }

        return false;
    }

    /// <summary>Drops a due check: the pool was cleared, or nothing in it can have been cut during the freeze.</summary>
    public void Cancel()
    {
        lock (_lock)
        {
            _due = false;
        }
    }

    /// <summary>
    /// Checks the pool's idle connections when a check is due; returns that check, or the last one (still running when
    /// another caller started it). Never fails: a check that cannot run is logged, and the app's own open then meets the
    /// problem. A pool without pooling or with multiplexing is not checked.
    /// </summary>
    /// <param name="createConnection">A new, closed connection that draws from the pool when opened.</param>
    /// <param name="clearPool">Closes every idle connection of the pool (connections in use when they are returned).</param>
    /// <param name="timeout">How long one connection may take to answer (<see cref="LambdaConnectionPoolOptions.ThawCheckTimeout"/>).</param>
    /// <returns>The check; awaiting it never throws.</returns>
    public Task RunIfDueAsync(Func<NpgsqlConnection> createConnection, Action clearPool, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(createConnection);
        ArgumentNullException.ThrowIfNull(clearPool);
        lock (_lock)
        {
            if (_due)
            {
                _due = false;
                _lastCheck = CheckAsync(createConnection, clearPool, timeout);
            }

            return _lastCheck;
        }
    }

    /// <summary>
    /// Whether <c>AddLambdaNpgsqlDataSourceLifecycle()</c> is registered in <paramref name="services"/>, enabled, and
    /// checks <paramref name="dataSource"/> (the app's registered <see cref="NpgsqlDataSource"/>) at every thaw: an
    /// integration whose connections come from that data source need not check it again.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="dataSource">The data source the integration's connections come from.</param>
    /// <returns>Whether the data source is checked at every thaw already.</returns>
    public static bool IsCheckedAtThaw(IServiceProvider services, NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(dataSource);
        return services.GetServices<ILambdaLifecycleObserver>().OfType<NpgsqlDataSourceLifecycleObserver>().FirstOrDefault()?.Checks(dataSource) == true;
    }

    private async Task CheckAsync(Func<NpgsqlConnection> createConnection, Action clearPool, TimeSpan timeout)
    {
        try
        {
            NpgsqlConnectionStringBuilder settings;
            await using (var connection = createConnection())
            {
                settings = new NpgsqlConnectionStringBuilder(connection.ConnectionString);
            }

            if (!settings.Pooling || settings.Multiplexing)
            {
                // Without pooling every open is a new connection; with multiplexing connections are not rented one by one.
                return;
            }

            var result = await NpgsqlPoolCheck.CheckIdleConnectionsAsync(createConnection, clearPool, timeout, settings.MaxPoolSize).ConfigureAwait(false);
            if (result.ReplacedAny)
            {
                LogReplaced(_logger, _poolName, result.Closed, result.Silent, timeout.TotalMilliseconds, result.Answered, result.Elapsed.TotalMilliseconds);
            }
            else
            {
                LogChecked(_logger, _poolName, result.Answered, result.Elapsed.TotalMilliseconds);
            }
        }
        catch (Exception exception)
        {
            LogCheckFailed(_logger, _poolName, exception);
        }
    }

    [LoggerMessage(101, LogLevel.Information, "After the thaw, {Pool} had {Closed} pooled connection(s) closed by the server and {Silent} silent for {TimeoutMilliseconds} ms: they were replaced; {Answered} answered and were kept (check took {ElapsedMilliseconds:0.###} ms).")]
    private static partial void LogReplaced(ILogger logger, string pool, int closed, int silent, double timeoutMilliseconds, int answered, double elapsedMilliseconds);

    [LoggerMessage(102, LogLevel.Debug, "After the thaw, the {Answered} idle pooled connection(s) of {Pool} answered and were kept (check took {ElapsedMilliseconds:0.###} ms).")]
    private static partial void LogChecked(ILogger logger, string pool, int answered, double elapsedMilliseconds);

    [LoggerMessage(103, LogLevel.Warning, "Could not check the idle pooled connections of {Pool} after the thaw; the request goes on.")]
    private static partial void LogCheckFailed(ILogger logger, string pool, Exception exception);

    [LoggerMessage(104, LogLevel.Debug, "Closed the idle pooled connections of {Pool} after {IdleSeconds:0.###} s idle.")]
    private static partial void LogCleared(ILogger logger, string pool, double idleSeconds);
}
