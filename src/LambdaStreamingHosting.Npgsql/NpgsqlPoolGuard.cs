using Microsoft.Extensions.Logging;
using Npgsql;

namespace LambdaStreamingHosting.Npgsql;

/// <summary>
/// The thaw state of one pool: after a thaw shorter than <see cref="LambdaConnectionPoolOptions.ThawClearThreshold"/>
/// its idle connections are due for a check (<see cref="NpgsqlPoolCheck"/>) before it is used again; after a longer one
/// they are closed outright. Callers decide when "before it is used" is: the first connection open of the invocation
/// (EF Core contexts) or the thaw itself (a data source, whose opens cannot be intercepted).
/// </summary>
internal sealed partial class NpgsqlPoolGuard(ILogger logger, string poolName)
{
    private readonly Lock _lock = new();
    private bool _checkDue;
    private Task _lastCheck = Task.CompletedTask;

    /// <summary>Whether a check is due.</summary>
    public bool CheckDue
    {
        get
        {
            lock (_lock)
            {
                return _checkDue;
            }
        }
    }

    /// <summary>
    /// After an idle gap of <paramref name="idleTime"/>: clears the pool through <paramref name="clear"/> when the gap is
    /// at least the threshold, otherwise makes a check due. Returns whether it cleared.
    /// </summary>
    public bool OnThaw(TimeSpan idleTime, LambdaConnectionPoolOptions options, Func<bool> clear)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clear);
        if (idleTime >= options.ThawClearThreshold)
        {
            SetCheckDue(false);
            if (clear())
            {
                LogCleared(logger, poolName, idleTime.TotalSeconds);
            }

            return true;
        }

        SetCheckDue(true);
        return false;
    }

    /// <summary>Drops a due check (the pool was cleared, or there is nothing to check).</summary>
    public void SetCheckDue(bool due)
    {
        lock (_lock)
        {
            _checkDue = due;
        }
    }

    /// <summary>
    /// Runs the check when one is due, and returns it; concurrent callers share one check. Never fails: a check that
    /// cannot run is logged, and the app's own open then meets the problem.
    /// </summary>
    /// <param name="pool">The pool to check.</param>
    /// <param name="connectionString">The pool's connection string (for its pooling settings).</param>
    /// <param name="timeout">How long one connection may take to answer.</param>
    public Task CheckIfDueAsync(INpgsqlPool pool, string connectionString, TimeSpan timeout)
    {
        lock (_lock)
        {
            if (_checkDue)
            {
                _checkDue = false;
                _lastCheck = CheckAsync(pool, connectionString, timeout);
            }

            return _lastCheck;
        }
    }

    private async Task CheckAsync(INpgsqlPool pool, string connectionString, TimeSpan timeout)
    {
        try
        {
            var settings = new NpgsqlConnectionStringBuilder(connectionString);
            if (!settings.Pooling || settings.Multiplexing)
            {
                // Without pooling every open is a new connection; with multiplexing connections are not rented one by one.
                return;
            }

            var result = await NpgsqlPoolCheck.CheckIdleConnectionsAsync(pool, timeout, settings.MaxPoolSize).ConfigureAwait(false);
            if (result.ReplacedAny)
            {
                LogReplaced(logger, poolName, result.Closed, result.Silent, timeout.TotalMilliseconds, result.Answered, result.Elapsed.TotalMilliseconds);
            }
            else
            {
                LogChecked(logger, poolName, result.Answered, result.Elapsed.TotalMilliseconds);
            }
        }
        catch (Exception exception)
        {
            LogCheckFailed(logger, poolName, exception);
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
