using LambdaStreamingHosting.Npgsql;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LambdaStreamingHosting.EntityFrameworkCore.Tests;

/// <summary>
/// The integration against a real PostgreSQL server, driven through the lifecycle hooks the Lambda server calls.
/// Each test pools under its own application name, so tests can count and end exactly their own server connections.
/// </summary>
[Collection(PostgresTests.Name)]
public sealed class PoolLifecycleTests(PostgresServer postgres)
{
    private static readonly TimeSpan LongFreeze = TimeSpan.FromMinutes(10);

    private static string NewApplicationName() => $"lsh-test-{Guid.NewGuid():N}";

    private TestApp NewApp(string applicationName, Action<LambdaConnectionPoolOptions>? configure = null, int? port = null, IDictionary<string, string?>? configuration = null) =>
        new(o => o.UseNpgsql(postgres.ConnectionString(applicationName, port)), configure, configuration);

    [Fact]
    public async Task Init_opens_the_configured_number_of_connections_and_the_first_request_uses_one_of_them()
    {
        var name = NewApplicationName();
        await using var app = NewApp(name, o => o.WarmConnections = 3);

        await app.InitAsync();

        var warm = await postgres.BackendPidsAsync(name);
        Assert.Equal(3, warm.Count);
        Assert.Contains(await app.InvokeAsync(), warm);
        Assert.Equal(warm, await postgres.BackendPidsAsync(name));
    }

    [Fact]
    public async Task Init_with_warm_start_off_opens_nothing()
    {
        var name = NewApplicationName();
        await using var app = NewApp(name, o => o.WarmConnections = 0);

        await app.InitAsync();

        Assert.Empty(await postgres.BackendPidsAsync(name));
    }

    [Fact]
    public async Task Init_with_an_unreachable_database_logs_a_warning_and_finishes_within_the_warm_up_timeout()
    {
        // A listener that is never accepted from: the TCP handshake completes, the server never answers, so a connect
        // would hang for the whole 30 s connection timeout.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        await using var app = new TestApp(
            o => o.UseNpgsql(new NpgsqlConnectionStringBuilder(postgres.ConnectionString(NewApplicationName(), port)) { Timeout = 30 }.ConnectionString),
            o => o.WarmUpTimeout = TimeSpan.FromSeconds(1));

        var stopwatch = Stopwatch.StartNew();
        await app.InitAsync();

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"init took {stopwatch.Elapsed}");
        Assert.Contains(app.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("Could not open warm database connections for PidContext", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Init_fails_with_an_actionable_message_when_warm_connections_exceed_the_pool_maximum()
    {
        var name = NewApplicationName();
        await using var app = new TestApp(
            o => o.UseNpgsql(new NpgsqlConnectionStringBuilder(postgres.ConnectionString(name)) { MaxPoolSize = 2 }.ConnectionString),
            o => o.WarmConnections = 3);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(app.InitAsync);

        Assert.Contains("WarmConnections is 3", error.Message, StringComparison.Ordinal);
        Assert.Contains("Maximum Pool Size", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_a_freeze_in_which_the_server_ended_the_connections_the_next_request_runs_on_a_new_backend()
    {
        var name = NewApplicationName();
        await using var app = NewApp(name, o => o.WarmConnections = 2);
        await app.InitAsync();
        var before = await app.InvokeAsync();
        await app.FreezingAsync();

        Assert.Equal(2, await postgres.TerminateBackendsAsync(name));
        await app.ThawAsync(LongFreeze);
        var after = await app.InvokeAsync();

        Assert.NotEqual(before, after);
        Assert.Equal([after], await postgres.BackendPidsAsync(name));
    }

    [Fact]
    public async Task Without_the_integration_the_request_after_the_server_ended_the_connections_fails_with_57P01()
    {
        var name = NewApplicationName();
        await using var app = NewApp(name, configuration: new Dictionary<string, string?> { ["LambdaStreaming:Database:Enabled"] = "false" });
        await app.InitAsync();
        await app.InvokeAsync();
        await app.FreezingAsync();

        await postgres.TerminateBackendsAsync(name);
        await app.ThawAsync(LongFreeze);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => app.InvokeAsync());

        Assert.Equal(PostgresErrorCodes.AdminShutdown, Find<PostgresException>(error)?.SqlState);
    }

    [Fact]
    public async Task After_a_freeze_in_which_the_network_path_went_silent_the_next_request_runs_on_a_new_connection()
    {
        var name = NewApplicationName();
        await using var relay = new TcpRelay(postgres.Port);
        await using var app = NewApp(name, port: relay.Port);
        await app.InitAsync();
        var before = await app.InvokeAsync();
        await app.FreezingAsync();

        relay.Silence();
        await app.ThawAsync(LongFreeze);
        var stopwatch = Stopwatch.StartNew();
        var after = await app.InvokeAsync();

        Assert.NotEqual(before, after);
        // Far below the 5 s command timeout: the request never touched the silent connection.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(4), $"the request took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task Without_the_integration_the_request_after_the_network_path_went_silent_hangs_until_the_command_timeout()
    {
        var name = NewApplicationName();
        await using var relay = new TcpRelay(postgres.Port);
        await using var app = new TestApp(
            o => o.UseNpgsql(new NpgsqlConnectionStringBuilder(postgres.ConnectionString(name, relay.Port)) { CommandTimeout = 1, CancellationTimeout = 500 }.ConnectionString),
            o => o.Enabled = false);
        await app.InitAsync();
        await app.InvokeAsync();
        await app.FreezingAsync();

        relay.Silence();
        await app.ThawAsync(LongFreeze);
        var stopwatch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => app.InvokeAsync());

        Assert.True(IsTimeout(error), error.ToString());
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(1), $"failed after {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task After_a_short_freeze_the_first_open_checks_every_idle_connection_and_replaces_only_the_terminated_ones()
    {
        var name = NewApplicationName();
        await using var app = NewApp(name, o => o.WarmConnections = 3);
        await app.InitAsync();
        await app.InvokeAsync();
        await app.FreezingAsync();
        var warm = await postgres.BackendsAsync(name);
        var victim = warm.First().Pid;
        await postgres.ExecuteAsync($"SELECT pg_terminate_backend({victim}, 5000)");

        await app.ThawAsync(TimeSpan.FromSeconds(1));
        // Three opens one after another: Npgsql hands idle connections out in turn, so each meets a different one.
        var served = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            served.Add(await app.InvokeAsync());
        }

        Assert.DoesNotContain(victim, served);
        Assert.Contains(app.Logs.Entries, e => e.Message.Contains("1 pooled connection(s) closed by the server", StringComparison.Ordinal));
    }

    [Fact]
    public async Task After_a_short_freeze_with_nothing_broken_no_connection_is_opened_or_closed()
    {
        var name = NewApplicationName();
        await using var app = NewApp(name, o => o.WarmConnections = 2);
        await app.InitAsync();
        await app.InvokeAsync();
        await app.FreezingAsync();
        var before = await postgres.BackendsAsync(name);

        await app.ThawAsync(TimeSpan.FromSeconds(10));
        var served = new[] { await app.InvokeAsync(), await app.InvokeAsync() };

        Assert.True(before.SetEquals(await postgres.BackendsAsync(name)));
        Assert.Subset(before.Select(b => b.Pid).ToHashSet(), served.ToHashSet());
        Assert.Contains(app.Logs.Entries, e => e.Message.Contains("the 2 idle pooled connection(s) of PidContext answered", StringComparison.Ordinal));
    }

    [Fact]
    public async Task After_a_short_freeze_in_which_the_path_went_silent_the_first_request_gives_it_up_within_the_check_timeout()
    {
        var name = NewApplicationName();
        await using var relay = new TcpRelay(postgres.Port);
        await using var app = new TestApp(
            o => o.UseNpgsql(new NpgsqlConnectionStringBuilder(postgres.ConnectionString(name, relay.Port)) { CommandTimeout = 10 }.ConnectionString),
            o => o.ThawCheckTimeout = TimeSpan.FromMilliseconds(300));
        await app.InitAsync();
        var before = await app.InvokeAsync();
        await app.FreezingAsync();

        relay.Silence();
        await app.ThawAsync(TimeSpan.FromSeconds(1));
        var stopwatch = Stopwatch.StartNew();
        var after = await app.InvokeAsync();

        Assert.NotEqual(before, after);
        // Far below the 10 s command timeout: 300 ms for the check, then one new connection.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"the request took {stopwatch.Elapsed}");
        Assert.Contains(app.Logs.Entries, e => e.Message.Contains("1 silent for 300 ms", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_thaw_without_a_database_call_costs_no_round_trip()
    {
        var name = NewApplicationName();
        await using var app = NewApp(name);
        await app.InitAsync();
        await app.InvokeAsync();

        await postgres.TerminateBackendsAsync(name);
        await app.ThawAsync(TimeSpan.FromSeconds(1));
        await app.FreezingAsync();

        // The check is due but did not run: nothing was logged and the server saw no new connection.
        Assert.DoesNotContain(app.Logs.Entries, e => e.Message.Contains("After the thaw", StringComparison.Ordinal));
        Assert.Empty(await postgres.BackendsAsync(name));
    }

    [Fact]
    public async Task An_idle_gap_below_the_threshold_keeps_the_pooled_connection()
    {
        var name = NewApplicationName();
        await using var app = NewApp(name, o => o.ThawClearThreshold = TimeSpan.FromSeconds(30));
        await app.InitAsync();
        var before = await app.InvokeAsync();
        await app.FreezingAsync();

        await app.ThawAsync(TimeSpan.FromSeconds(29));

        Assert.Equal(before, await app.InvokeAsync());
    }

    [Fact]
    public async Task Contexts_and_connections_go_back_to_their_pools_over_1000_invocations()
    {
        var name = NewApplicationName();
        await using var app = NewApp(name, o => o.WarmConnections = 2);
        await app.InitAsync();
        var warm = await postgres.BackendPidsAsync(name);
        var served = new HashSet<int>();
        var contexts = new HashSet<PidContext>(ReferenceEqualityComparer.Instance);

        for (var i = 0; i < 1000; i++)
        {
            await app.ThawAsync(TimeSpan.FromMilliseconds(1));
            await using (var scope = app.Services.CreateAsyncScope())
            {
                var context = scope.ServiceProvider.GetRequiredService<PidContext>();
                contexts.Add(context);
                served.Add(await context.BackendPidAsync());
            }

            await app.FreezingAsync();
            if (i % 250 == 249)
            {
                Assert.Equal(warm, await postgres.BackendPidsAsync(name));
            }
        }

        // The contexts and server connections opened during init served every invocation: nothing leaked, nothing grew.
        Assert.InRange(contexts.Count, 1, 2);
        Assert.Subset(warm.ToHashSet(), served);
        Assert.Equal(warm, await postgres.BackendPidsAsync(name));
    }

    [Fact]
    public async Task A_connection_open_that_fails_with_a_transient_error_is_retried_once()
    {
        var name = NewApplicationName();
        await using var relay = new TcpRelay(postgres.Port);
        await using var app = NewApp(name, o => o.WarmConnections = 0, port: relay.Port);
        relay.ResetNextConnections(1);

        await app.InvokeAsync();

        Assert.Equal(2, relay.AcceptedConnections);
        Assert.Contains(app.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("trying once more", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_connection_open_that_fails_twice_fails_the_request()
    {
        await using var relay = new TcpRelay(postgres.Port);
        await using var app = NewApp(NewApplicationName(), o => o.WarmConnections = 0, port: relay.Port);
        relay.ResetNextConnections(2);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => app.InvokeAsync());

        Assert.NotNull(Find<NpgsqlException>(error));
        Assert.Equal(2, relay.AcceptedConnections);
    }

    [Fact]
    public async Task Without_the_integration_a_failed_connection_open_is_not_retried()
    {
        await using var relay = new TcpRelay(postgres.Port);
        await using var app = NewApp(NewApplicationName(), o => o.Enabled = false, port: relay.Port);
        relay.ResetNextConnections(1);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => app.InvokeAsync());

        Assert.NotNull(Find<NpgsqlException>(error));
        Assert.Equal(1, relay.AcceptedConnections);
    }

    [Fact]
    public async Task A_snapshot_takes_no_connection_along_and_the_restore_warms_up_again()
    {
        var name = NewApplicationName();
        await using var app = NewApp(name, o => o.WarmConnections = 2);
        await app.InitAsync();
        var beforeSnapshot = await postgres.BackendPidsAsync(name);

        await app.BeforeSnapshotAsync();
        Assert.Empty(await WaitForBackendCountAsync(name, 0));

        await app.AfterRestoreAsync();
        var restored = await postgres.BackendPidsAsync(name);
        Assert.Equal(2, restored.Count);
        Assert.Empty(restored.Intersect(beforeSnapshot));
    }

    [Fact]
    public async Task Thaw_clearing_also_works_for_a_context_built_on_an_NpgsqlDataSource()
    {
        var name = NewApplicationName();
        await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString(name));
        await using var app = new TestApp(o => o.UseNpgsql(dataSource));
        await app.InitAsync();
        var before = await app.InvokeAsync();

        await postgres.TerminateBackendsAsync(name);
        await app.ThawAsync(LongFreeze);

        Assert.NotEqual(before, await app.InvokeAsync());
    }

    [Fact]
    public async Task Invalid_options_stop_the_host_at_start_with_messages_saying_what_to_change()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["LambdaStreaming:Database:WarmConnections"] = "-1";
        builder.Services.AddDbContextPool<PidContext>(o => o.UseNpgsql(postgres.ConnectionString(NewApplicationName())));
        builder.Services.AddLambdaDbContextLifecycle<PidContext>(o => (o.WarmUpTimeout, o.ThawCheckTimeout) = (TimeSpan.Zero, TimeSpan.Zero));
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("LambdaStreaming:Database:WarmConnections is -1; set it to 0 (no warm start) or more.", error.Failures);
        Assert.Contains(error.Failures, f => f.StartsWith("LambdaStreaming:Database:ThawCheckTimeout is 00:00:00", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("LambdaStreaming:Database:WarmUpTimeout is 00:00:00", StringComparison.Ordinal));
    }

    private async Task<IReadOnlyList<int>> WaitForBackendCountAsync(string applicationName, int count)
    {
        // A closed connection leaves pg_stat_activity when its backend has exited, a moment after the client closed it.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var pids = await postgres.BackendPidsAsync(applicationName);
            if (pids.Count == count || deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                return pids;
            }

            await Task.Delay(50);
        }
    }

    private static bool IsTimeout(Exception error) => Find<TimeoutException>(error) is not null;

    /// <summary>The first exception of type <typeparamref name="T"/> in the chain (EF Core wraps provider errors).</summary>
    private static T? Find<T>(Exception? error) where T : Exception
    {
        for (; error is not null; error = error.InnerException)
        {
            if (error is T found)
            {
                return found;
            }
        }

        return null;
    }
}
