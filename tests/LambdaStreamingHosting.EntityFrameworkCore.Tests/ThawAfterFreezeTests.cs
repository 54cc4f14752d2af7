using System.Net;

namespace LambdaStreamingHosting.EntityFrameworkCore.Tests;

// The example app as a separate process, really frozen (SIGSTOP) for 1 s and for 10 s while its pooled connections are
// broken, then asked through both lines (NpgsqlDataSource and EF Core). One class per breakage, each on its own
// PostgreSQL cluster (a restart must not disturb the others), so the classes run in parallel.

/// <summary>Nothing broken while frozen: the same backends answer and the server saw no new connection.</summary>
public sealed class ThawWithNothingBrokenTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    public async Task After_a_freeze_the_pooled_connections_are_reused(int freezeSeconds)
    {
        var outcome = await FrozenExampleApp.FreezeBreakAndThawAsync(postgres, Breakage.None, TimeSpan.FromSeconds(freezeSeconds), integrationEnabled: true);

        Assert.True(outcome.Direct.StatusCode == HttpStatusCode.OK && outcome.Ef.StatusCode == HttpStatusCode.OK, outcome.ToString());
        Assert.Equal(4, outcome.Warm.Count); // two warm connections per pool, opened during init
        Assert.Equal(outcome.Warm, outcome.Before);
        Assert.Contains(outcome.Direct.Pid!.Value, outcome.PidsBefore);
        Assert.Contains(outcome.Ef.Pid!.Value, outcome.PidsBefore);
        // Same backends, same start times: no connection was opened or closed.
        Assert.True(outcome.Before.SetEquals(outcome.After), outcome.ToString());
    }
}

/// <summary>Backends terminated while frozen: the next requests answer 200 from new backends; without the integration they fail with 57P01.</summary>
public sealed class ThawAfterTerminatedBackendsTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    public async Task After_a_freeze_in_which_the_backends_were_terminated_the_next_requests_run_on_new_backends(int freezeSeconds)
    {
        var outcome = await FrozenExampleApp.FreezeBreakAndThawAsync(postgres, Breakage.BackendsTerminated, TimeSpan.FromSeconds(freezeSeconds), integrationEnabled: true);

        ThawAssert.AnsweredFromNewBackends(outcome);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    public async Task Without_the_integration_the_requests_after_the_backends_were_terminated_fail(int freezeSeconds)
    {
        var outcome = await FrozenExampleApp.FreezeBreakAndThawAsync(postgres, Breakage.BackendsTerminated, TimeSpan.FromSeconds(freezeSeconds), integrationEnabled: false);

        ThawAssert.BothFailed(outcome);
        Assert.Contains("57P01", outcome.FunctionOutput, StringComparison.Ordinal);
    }
}

/// <summary>Server restarted while frozen: the next requests answer 200; without the integration they fail.</summary>
public sealed class ThawAfterServerRestartTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    public async Task After_a_freeze_in_which_the_server_restarted_the_next_requests_succeed(int freezeSeconds)
    {
        var outcome = await FrozenExampleApp.FreezeBreakAndThawAsync(postgres, Breakage.ServerRestarted, TimeSpan.FromSeconds(freezeSeconds), integrationEnabled: true);

        ThawAssert.AnsweredFromNewBackends(outcome);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    public async Task Without_the_integration_the_requests_after_a_server_restart_fail(int freezeSeconds)
    {
        var outcome = await FrozenExampleApp.FreezeBreakAndThawAsync(postgres, Breakage.ServerRestarted, TimeSpan.FromSeconds(freezeSeconds), integrationEnabled: false);

        ThawAssert.BothFailed(outcome);
        Assert.Contains("57P01", outcome.FunctionOutput, StringComparison.Ordinal);
    }
}

/// <summary>
/// Network path silenced while frozen: the next requests answer 200 within the documented bound (ThawCheckTimeout, 1 s,
/// plus one new connection); without the integration each hangs for the whole command timeout and fails.
/// </summary>
public sealed class ThawAfterSilentPathTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    // Generous for one connect and query on a loaded machine, and still well below the command timeout.
    private static readonly TimeSpan Bound = FrozenExampleApp.ThawCheckTimeout + TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    public async Task After_a_freeze_in_which_the_path_went_silent_the_next_requests_succeed_within_the_bound(int freezeSeconds)
    {
        var outcome = await FrozenExampleApp.FreezeBreakAndThawAsync(postgres, Breakage.PathSilenced, TimeSpan.FromSeconds(freezeSeconds), integrationEnabled: true);

        ThawAssert.AnsweredFromNewBackends(outcome);
        Assert.True(outcome.Direct.Latency < Bound, $"data source request took {outcome.Direct.Latency}\n{outcome}");
        Assert.True(outcome.Ef.Latency < Bound, $"EF Core request took {outcome.Ef.Latency}\n{outcome}");
        Assert.Contains("silent", outcome.FunctionOutput, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    public async Task Without_the_integration_the_requests_after_the_path_went_silent_hang_until_the_command_timeout(int freezeSeconds)
    {
        var outcome = await FrozenExampleApp.FreezeBreakAndThawAsync(postgres, Breakage.PathSilenced, TimeSpan.FromSeconds(freezeSeconds), integrationEnabled: false);

        ThawAssert.BothFailed(outcome);
        var commandTimeout = TimeSpan.FromSeconds(FrozenExampleApp.CommandTimeoutSeconds);
        Assert.True(outcome.Direct.Latency >= commandTimeout, $"data source request failed after {outcome.Direct.Latency}");
        Assert.True(outcome.Ef.Latency >= commandTimeout, $"EF Core request failed after {outcome.Ef.Latency}");
        Assert.Contains("Timeout", outcome.FunctionOutput, StringComparison.Ordinal);
    }
}

internal static class ThawAssert
{
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
