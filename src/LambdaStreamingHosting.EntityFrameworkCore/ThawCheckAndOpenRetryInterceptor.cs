using System.Data.Common;
using LambdaStreamingHosting.Npgsql;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LambdaStreamingHosting.EntityFrameworkCore;

/// <summary>
/// Runs before a context opens its connection. On the first open after a thaw it checks the pool's idle connections
/// (<see cref="NpgsqlPoolThawCheck"/>), so the open gets one that answered, or a fresh one. Then it opens the connection
/// itself and, when the open fails with a transient error (connection refused or reset, a server that cannot accept
/// connections yet), tries once more. Retrying an open is always safe: no command ran. Commands are never retried here,
/// because one that failed may already have taken effect.
/// </summary>
/// <param name="options">The options in force.</param>
/// <param name="thawCheck">The thaw state of the context's pool.</param>
/// <param name="isCheckedAtThaw">Whether a data source is checked at every thaw already (by <c>AddLambdaNpgsqlDataSourceLifecycle()</c>): a context on it is not checked again.</param>
/// <param name="logger">Where retries are logged.</param>
internal sealed partial class ThawCheckAndOpenRetryInterceptor(
    Func<LambdaConnectionPoolOptions> options,
    NpgsqlPoolThawCheck thawCheck,
    Func<NpgsqlDataSource, bool> isCheckedAtThaw,
    ILogger<ThawCheckAndOpenRetryInterceptor> logger) : DbConnectionInterceptor
{
    public override InterceptionResult ConnectionOpening(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
    {
        var settings = options();
        if (result.IsSuppressed || !settings.Enabled)
        {
            return result;
        }

        // Sync opens are rare in ASP.NET Core apps; the check is asynchronous and never throws.
        CheckIfDue(connection, eventData, settings).GetAwaiter().GetResult();
        try
        {
            connection.Open();
        }
        catch (DbException exception) when (exception.IsTransient)
        {
            LogRetrying(logger, exception);
            connection.Open();
        }

        return InterceptionResult.Suppress();
    }

    public override async ValueTask<InterceptionResult> ConnectionOpeningAsync(
        DbConnection connection, ConnectionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default)
    {
        var settings = options();
        if (result.IsSuppressed || !settings.Enabled)
        {
            return result;
        }

        await CheckIfDue(connection, eventData, settings).WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbException exception) when (exception.IsTransient && !cancellationToken.IsCancellationRequested)
        {
            LogRetrying(logger, exception);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }

        return InterceptionResult.Suppress();
    }

    private Task CheckIfDue(DbConnection connection, ConnectionEventData eventData, LambdaConnectionPoolOptions settings)
    {
        if (!thawCheck.IsDue)
        {
            return Task.CompletedTask;
        }

        if (connection is not NpgsqlConnection npgsql || eventData.Context is not { } context
            || (ConnectionPool.NpgsqlDataSource(context.Database) is { } dataSource && isCheckedAtThaw(dataSource)))
        {
            // SQLite and other providers: nothing is cut during a freeze. A data source the other line checks: done.
            thawCheck.Cancel();
            return Task.CompletedTask;
        }

        // Clones of the context's connection draw from the same pool.
        return thawCheck.RunIfDueAsync(
            () => (NpgsqlConnection)((ICloneable)npgsql).Clone(),
            () => ConnectionPool.ClearIdle(context.Database),
            settings.ThawCheckTimeout);
    }

    [LoggerMessage(1, LogLevel.Warning, "Opening a database connection failed with a transient error; trying once more.")]
    private static partial void LogRetrying(ILogger logger, Exception exception);
}
