using System.Net;

namespace LambdaStreamingHosting.EntityFrameworkCore.Tests;

// The example app as a separate process, really frozen (SIGSTOP) for 1 s and then for 10 s while its pooled connections
// are broken, then asked through both lines (NpgsqlDataSource and EF Core). One class per breakage, each on its own
// PostgreSQL cluster (a restart must not disturb the others), so the classes run in parallel.

/// <summary>Nothing broken while frozen: the same backends answer and the server saw no new connection.</summary>
public sealed class ThawWithNothingBrokenTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task After_freezes_of_1_s_and_10_s_the_pooled_connections_are_reused()
    {
        foreach (var outcome in await FrozenExampleApp.FreezeBreakAndThawAsync(postgres, Breakage.None, integrationEnabled: true, ThawAssert.Freezes))
        {
            Assert.True(outcome.Direct.StatusCode == HttpStatusCode.OK && outcome.Ef.StatusCode == HttpStatusCode.OK, outcome.ToString());
            Assert.Equal(4, outcome.Warm.Count); // two warm connections per pool, opened during init
            Assert.True(outcome.Warm.SetEquals(outcome.Before), outcome.ToString());
            Assert.Contains(outcome.Direct.Pid!.Value, outcome.PidsBefore);
            Assert.Contains(outcome.Ef.Pid!.Value, outcome.PidsBefore);
            // Same backends, same start times: no connection was opened or closed.
            Assert.True(outcome.Before.SetEquals(outcome.After), outcome.ToString());
        }
    }
}

/// <summary>
/// The server closed the pooled connections while the process was frozen: the next requests answer 200 from new
/// backends; without the integration they fail with the server's 57P01 read from the dead connection.
/// </summary>
public abstract class ServerClosedConnectionsWhileFrozenTests(PostgresServer postgres, Breakage breakage) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task After_freezes_of_1_s_and_10_s_the_next_requests_run_on_new_backends()
    {
        foreach (var outcome in await FrozenExampleApp.FreezeBreakAndThawAsync(postgres, breakage, integrationEnabled: true, ThawAssert.Freezes))
        {
            ThawAssert.AnsweredFromNewBackends(outcome);
        }
    }

    [Fact]
    public async Task Without_the_integration_the_next_requests_fail()
    {
        foreach (var outcome in await FrozenExampleApp.FreezeBreakAndThawAsync(postgres, breakage, integrationEnabled: false, ThawAssert.Freezes))
        {
            ThawAssert.BothFailed(outcome);
            Assert.Contains("57P01", outcome.FunctionOutput, StringComparison.Ordinal);
        }
    }
}

/// <summary>Backends terminated (<c>pg_terminate_backend</c>) while frozen.</summary>
public sealed class ThawAfterTerminatedBackendsTests(PostgresServer postgres) : ServerClosedConnectionsWhileFrozenTests(postgres, Breakage.BackendsTerminated);

/// <summary>Server restarted (<c>pg_ctl restart -m fast</c>) while frozen.</summary>
public sealed class ThawAfterServerRestartTests(PostgresServer postgres) : ServerClosedConnectionsWhileFrozenTests(postgres, Breakage.ServerRestarted);

/// <summary>
/// Network path silenced while frozen: the next requests answer 200 from new connections, each pool's check giving the
/// silent connections up within the documented bound (ThawCheckTimeout, 1 s), so no request comes near the command
/// timeout; without the integration each request hangs for the whole command timeout and fails.
/// </summary>
public sealed class ThawAfterSilentPathTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    // The check's own clock (logged by the app) may run late by a timer tick or a busy machine's scheduling, no more.
    private static readonly TimeSpan CheckBound = FrozenExampleApp.ThawCheckTimeout + TimeSpan.FromMilliseconds(500);

    [Fact]
    public async Task After_freezes_in_which_the_path_went_silent_the_next_requests_succeed_within_the_bound()
    {
        var commandTimeout = TimeSpan.FromSeconds(FrozenExampleApp.CommandTimeoutSeconds);
        foreach (var outcome in await FrozenExampleApp.FreezeBreakAndThawAsync(postgres, Breakage.PathSilenced, integrationEnabled: true, ThawAssert.Freezes))
        {
            ThawAssert.AnsweredFromNewBackends(outcome);
            foreach (var pool in new[] { "NpgsqlDataSource", "AppDbContext" })
            {
                var check = LastCheck(outcome.FunctionOutput, pool);
                Assert.True(check is { Silent: >= 1 } && check.Value.Took < CheckBound, $"{pool}: {check}\n{outcome}");
            }

            // Far from the command timeout: neither request waited on a silent connection for it.
            Assert.True(outcome.Direct.Latency < commandTimeout / 2, $"data source request took {outcome.Direct.Latency}\n{outcome}");
            Assert.True(outcome.Ef.Latency < commandTimeout / 2, $"EF Core request took {outcome.Ef.Latency}\n{outcome}");
        }
    }

    /// <summary>The last check of <paramref name="pool"/> the app logged: how many connections were silent, and how long it took.</summary>
    private static (int Silent, TimeSpan Took)? LastCheck(string output, string pool)
    {
        var match = System.Text.RegularExpressions.Regex.Matches(
            output, $@"After the thaw, {pool} had \d+ pooled connection\(s\) closed by the server and (\d+) silent .*?check took ([\d.]+) ms").LastOrDefault();
        return match is null ? null : (int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
            TimeSpan.FromMilliseconds(double.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task Without_the_integration_the_requests_after_the_path_went_silent_hang_until_the_command_timeout()
    {
        var commandTimeout = TimeSpan.FromSeconds(FrozenExampleApp.CommandTimeoutSeconds);
        foreach (var outcome in await FrozenExampleApp.FreezeBreakAndThawAsync(postgres, Breakage.PathSilenced, integrationEnabled: false, ThawAssert.Freezes))
        {
            ThawAssert.BothFailed(outcome);
            Assert.True(outcome.Direct.Latency >= commandTimeout, $"data source request failed after {outcome.Direct.Latency}");
            Assert.True(outcome.Ef.Latency >= commandTimeout, $"EF Core request failed after {outcome.Ef.Latency}");
            Assert.Contains("Timeout", outcome.FunctionOutput, StringComparison.Ordinal);
        }
    }
}

internal static class ThawAssert
{
    /// <summary>The freezes every scenario goes through, one after the other in one process.</summary>
    public static readonly TimeSpan[] Freezes = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)];

    public static void AnsweredFromNewBackends(ThawOutcome outcome)
    {
        Assert.True(outcome.Direct.StatusCode == HttpStatusCode.OK && outcome.Ef.StatusCode == HttpStatusCode.OK, outcome.ToString());
        Assert.DoesNotContain(outcome.Direct.Pid!.Value, outcome.PidsBefore);
        Assert.DoesNotContain(outcome.Ef.Pid!.Value, outcome.PidsBefore);
    }

    public static void BothFailed(ThawOutcome outcome)
    {
        Assert.True(outcome.Direct.StatusCode == HttpStatusCode.InternalServerError, outcome.ToString());
        Assert.True(outcome.Ef.StatusCode == HttpStatusCode.InternalServerError, outcome.ToString());
    }
}
