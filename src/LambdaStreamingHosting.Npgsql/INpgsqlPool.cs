using Npgsql;

namespace LambdaStreamingHosting.Npgsql;

/// <summary>An Npgsql connection pool as the check sees it: where its connections come from, and how it is emptied.</summary>
internal interface INpgsqlPool
{
    /// <summary>A new, closed connection that draws from the pool when opened.</summary>
    NpgsqlConnection CreateConnection();

    /// <summary>Closes every idle connection of the pool; connections in use are closed when they are returned.</summary>
    void Clear();
}

/// <summary>The pool of an <see cref="NpgsqlDataSource"/>.</summary>
internal sealed class DataSourcePool(NpgsqlDataSource dataSource) : INpgsqlPool
{
    public NpgsqlConnection CreateConnection() => dataSource.CreateConnection();

    public void Clear() => dataSource.Clear();
}
