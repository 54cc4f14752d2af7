using LambdaStreamingHosting.Lifecycle;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LambdaStreamingHosting.EntityFrameworkCore.Tests;

/// <summary><c>AddLambdaNpgsqlDataSourceLifecycle()</c> in process, driven through the hooks the Lambda server calls.</summary>
[Collection(PostgresTests.Name)]
public sealed class NpgsqlDataSourceLineTests(PostgresServer postgres)
{
    [Fact]
    public async Task Below_the_clear_threshold_the_thaw_keeps_healthy_connections_and_replaces_terminated_ones_and_above_it_clears()
    {
        var name = $"lsh-ds-{Guid.NewGuid():N}";
        await using var services = Services(s => s.AddSingleton(NpgsqlDataSource.Create(postgres.ConnectionString(name))), o => o.WarmConnections = 2);
        var dataSource = services.GetRequiredService<NpgsqlDataSource>();
        await NotifyAsync(services, o => o.OnInitAsync(default));
        var warm = await postgres.BackendsAsync(name);
        Assert.Equal(2, warm.Count);

        await NotifyAsync(services, o => o.OnThawAsync(TimeSpan.FromSeconds(10), default));
        Assert.True(warm.SetEquals(await postgres.BackendsAsync(name)), "a healthy pool is kept as it is");

        await postgres.TerminateBackendsAsync(name);
        await NotifyAsync(services, o => o.OnThawAsync(TimeSpan.FromSeconds(10), default));
        await using (var command = dataSource.CreateCommand("SELECT pg_backend_pid()"))
        {
            Assert.DoesNotContain((int)(await command.ExecuteScalarAsync())!, warm.Select(b => b.Pid));
        }

        var beforeLongGap = await postgres.BackendsAsync(name);
        await NotifyAsync(services, o => o.OnThawAsync(TimeSpan.FromMinutes(5), default));
        await using (var command = dataSource.CreateCommand("SELECT pg_backend_pid()"))
        {
            Assert.DoesNotContain((int)(await command.ExecuteScalarAsync())!, beforeLongGap.Select(b => b.Pid));
        }
    }

    [Fact]
    public async Task A_context_on_the_checked_data_source_is_not_checked_again_on_its_open()
    {
        var name = $"lsh-ds-{Guid.NewGuid():N}";
        await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString(name));
        await using var app = new TestApp(
            o => o.UseNpgsql(dataSource),
            moreServices: s => s.AddSingleton(dataSource).AddLambdaNpgsqlDataSourceLifecycle());
        await app.InitAsync();
        var before = await app.InvokeAsync();
        await app.FreezingAsync();

        await postgres.TerminateBackendsAsync(name);
        await app.ThawAsync(TimeSpan.FromSeconds(1));

        Assert.NotEqual(before, await app.InvokeAsync());
        Assert.Contains(app.Logs.Entries, e => e.Message.StartsWith("After the thaw, NpgsqlDataSource had ", StringComparison.Ordinal)
            && !e.Message.Contains("had 0 pooled", StringComparison.Ordinal));
        Assert.DoesNotContain(app.Logs.Entries, e => e.Message.Contains("After the thaw, PidContext", StringComparison.Ordinal)
            || e.Message.Contains("of PidContext answered", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_registered_data_source_init_fails_with_a_message_saying_what_to_register()
    {
        await using var services = Services(_ => { });

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => NotifyAsync(services, o => o.OnInitAsync(default)));

        Assert.Contains("services.AddNpgsqlDataSource(connectionString)", error.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider Services(Action<IServiceCollection> addDataSource, Action<LambdaStreamingHosting.Npgsql.LambdaConnectionPoolOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        addDataSource(services);
        services.AddLambdaNpgsqlDataSourceLifecycle(configure);
        return services.BuildServiceProvider();
    }

    private static async Task NotifyAsync(IServiceProvider services, Func<ILambdaLifecycleObserver, ValueTask> hook)
    {
        foreach (var observer in services.GetServices<ILambdaLifecycleObserver>())
        {
            await hook(observer);
        }
    }
}
