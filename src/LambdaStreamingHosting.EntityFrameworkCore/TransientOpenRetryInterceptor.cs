using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.EntityFrameworkCore;

/// <summary>
/// Opens the context's connection itself and, when the open fails with a transient error (connection refused or
/// reset, a server that cannot accept connections yet), tries once more. Retrying an open is always safe: no command
/// ran. Commands are never retried here, because one that failed may already have taken effect.
/// </summary>
internal sealed partial class TransientOpenRetryInterceptor(
    IOptionsMonitor<LambdaDbContextLifecycleOptions> options,
    string optionsName,
    ILogger<TransientOpenRetryInterceptor> logger) : DbConnectionInterceptor
{
    public override InterceptionResult ConnectionOpening(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
    {
        if (result.IsSuppressed || !options.Get(optionsName).Enabled)
        {
            return result;
        }

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
        if (result.IsSuppressed || !options.Get(optionsName).Enabled)
        {
            return result;
        }

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

    [LoggerMessage(1, LogLevel.Warning, "Opening a database connection failed with a transient error; trying once more.")]
    private static partial void LogRetrying(ILogger logger, Exception exception);
}
