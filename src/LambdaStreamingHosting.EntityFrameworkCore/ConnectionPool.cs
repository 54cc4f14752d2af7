using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Npgsql.EntityFrameworkCore.PostgreSQL.Storage.Internal;

namespace LambdaStreamingHosting.EntityFrameworkCore;

/// <summary>
/// What this package knows about the connection pool behind a context. Npgsql is supported, whether the context
/// was given a connection string or an <see cref="NpgsqlDataSource"/>; for other providers (SQLite: a local file,
/// nothing to cut during a freeze) these operations do nothing.
/// </summary>
internal static class ConnectionPool
{
    /// <summary>
    /// Closes every idle physical connection in the pool the context draws from; connections in use are closed when
    /// they are returned. Returns whether the provider's pool is known.
    /// </summary>
    public static bool ClearIdle(DatabaseFacade database)
    {
        if (NpgsqlDataSource(database) is { } dataSource)
        {
            dataSource.Clear();
            return true;
        }

        if (database.GetDbConnection() is NpgsqlConnection connection)
        {
            // Pools keyed by connection string (no data source).
            NpgsqlConnection.ClearPool(connection);
            return true;
        }

        return false;
    }

    /// <summary>The pool's maximum size, or <see langword="null"/> when the provider or its setting is unknown.</summary>
    public static int? MaxSize(DatabaseFacade database)
    {
        var connectionString = NpgsqlDataSource(database)?.ConnectionString
            ?? (database.GetDbConnection() as NpgsqlConnection)?.ConnectionString;
        if (string.IsNullOrEmpty(connectionString))
        {
            return null;
        }

        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        return settings.Pooling ? settings.MaxPoolSize : null;
    }

    /// <summary>The data source behind the context, or <see langword="null"/> (a connection string, or another provider).</summary>
    public static NpgsqlDataSource? NpgsqlDataSource(DatabaseFacade database)
    {
        // The Npgsql provider exposes the data source behind a context (given by the app, taken from DI or built by the
        // provider itself) only through this internal interface.
#pragma warning disable EF1001
        return database.GetService<IRelationalConnection>() is INpgsqlRelationalConnection npgsql ? npgsql.DataSource as NpgsqlDataSource : null;
#pragma warning restore EF1001
    }
}
