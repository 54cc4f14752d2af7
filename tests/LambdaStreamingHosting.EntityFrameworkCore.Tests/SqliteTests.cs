using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LambdaStreamingHosting.EntityFrameworkCore.Tests;

/// <summary>With SQLite (the example's default database) the integration warms up and otherwise stays out of the way.</summary>
public sealed class SqliteTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"lsh-efcore-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task Every_lifecycle_hook_is_harmless_and_requests_keep_working()
    {
        await using var app = new TestApp(o => o.UseSqlite($"Data Source={_file}"), o => o.WarmConnections = 2);

        await app.InitAsync();
        Assert.Equal(1, await QueryAsync(app));
        await app.FreezingAsync();
        await app.ThawAsync(TimeSpan.FromHours(1));
        Assert.Equal(1, await QueryAsync(app));
        await app.BeforeSnapshotAsync();
        await app.AfterRestoreAsync();
        Assert.Equal(1, await QueryAsync(app));

        Assert.DoesNotContain(app.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
        Assert.True(File.Exists(_file), "warm start opened the database file during init");
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        File.Delete(_file);
    }

    private static async Task<int> QueryAsync(TestApp app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<PidContext>().Database.SqlQuery<int>($"SELECT 1 AS \"Value\"").SingleAsync();
    }
}
