using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using LambdaStreamingHosting.Testing;
using Npgsql;

namespace LambdaStreamingHosting.EntityFrameworkCore.Tests;

/// <summary>
/// The example app (<c>examples/StreamingApi</c> on PostgreSQL) as a separate process under the emulator, really frozen
/// with <c>SIGSTOP</c> between invocations. While it is frozen the test breaks its pooled connections the two ways a
/// real freeze does: the server ends them (<c>pg_terminate_backend</c>), or the network path goes silent. After the
/// thaw the next request must succeed on a new connection at normal speed; with the integration switched off
/// (<c>LambdaStreaming__Database__Enabled=false</c>) the same request must fail, which proves the test can fail.
/// </summary>
[Collection(PostgresTests.Name)]
public sealed class FrozenFunctionTests(PostgresServer postgres)
{
    // Short, so a hang on a dead connection shows quickly and clearly exceeds a normal request.
    private const int CommandTimeoutSeconds = 2;
    private static readonly TimeSpan ThawClearThreshold = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    public enum Breakage
    {
        ServerEndedConnections,
        SilentNetworkPath,
    }

    [Theory]
    [InlineData(Breakage.ServerEndedConnections)]
    [InlineData(Breakage.SilentNetworkPath)]
    public async Task After_a_real_freeze_that_broke_the_pooled_connections_the_next_request_succeeds_on_a_new_backend(Breakage breakage)
    {
        var result = await FreezeBreakAndThawAsync(breakage, integrationEnabled: true);

        Assert.True(result.After.StatusCode == HttpStatusCode.OK, $"after the thaw: {result.After.StatusCode} {result.After.Body}\n{result.FunctionOutput}");
        Assert.NotEqual(result.PidBefore, result.PidAfter);
        Assert.DoesNotContain(result.PidAfter!.Value, result.WarmPids);
        Assert.True(result.After.Latency < TimeSpan.FromSeconds(CommandTimeoutSeconds), $"the request after the thaw took {result.After.Latency}");
    }

    [Theory]
    [InlineData(Breakage.ServerEndedConnections)]
    [InlineData(Breakage.SilentNetworkPath)]
    public async Task Without_the_integration_the_request_after_a_real_freeze_that_broke_the_pooled_connections_fails(Breakage breakage)
    {
        var result = await FreezeBreakAndThawAsync(breakage, integrationEnabled: false);

        Assert.Equal(HttpStatusCode.InternalServerError, result.After.StatusCode);
        if (breakage == Breakage.ServerEndedConnections)
        {
            // The app logged the server's goodbye, read from the dead connection.
            Assert.Contains("57P01", result.FunctionOutput, StringComparison.Ordinal);
        }
        else
        {
            // It waited on the silent connection for the whole command timeout.
            Assert.True(result.After.Latency >= TimeSpan.FromSeconds(CommandTimeoutSeconds), $"failed after {result.After.Latency}");
            Assert.Contains("Timeout", result.FunctionOutput, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Over_1000_invocations_contexts_and_connections_go_back_to_their_pools()
    {
        var name = $"lsh-leak-{Guid.NewGuid():N}";
        var database = await postgres.CreateDatabaseAsync($"leak_{Guid.NewGuid():N}");
        // Not frozen, so the loop runs fast; the server still calls the thaw and freezing hooks between invocations.
        await using var function = new FunctionProcess(ExampleApp(postgres.ConnectionString(name), database, integrationEnabled: true, freeze: false));
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function });
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(Generous);
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };
        var warm = await postgres.BackendPidsAsync(name);
        Assert.Equal(2, warm.Count);

        for (var i = 0; i < 1000; i++)
        {
            // Alternate a plain query with a streamed one (the connection is held while the body streams).
            using var response = await client.GetAsync(i % 2 == 0 ? "db/backend-pid" : "notes");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"invocation {i}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}\n{function.RecentOutput}");
            if (i % 2 == 0)
            {
                Assert.Contains((await response.Content.ReadFromJsonAsync<PidBody>())!.Pid, warm);
            }

            if (i % 200 == 199)
            {
                Assert.Equal(warm, await postgres.BackendPidsAsync(name));
            }
        }

        Assert.Equal(warm, await postgres.BackendPidsAsync(name));
    }

    [Fact]
    public async Task On_Managed_Instances_a_long_gap_clears_nothing_because_the_environment_is_never_frozen()
    {
        var name = $"lsh-managed-{Guid.NewGuid():N}";
        var database = await postgres.CreateDatabaseAsync($"managed_{Guid.NewGuid():N}");
        var app = ExampleApp(postgres.ConnectionString(name), database, integrationEnabled: true, freeze: false);
        app.Environment["AWS_LAMBDA_MAX_CONCURRENCY"] = "2";
        app.Environment["AWS_LAMBDA_INITIALIZATION_TYPE"] = "lambda-managed-instances";
        await using var function = new FunctionProcess(app);
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function, MaxConcurrency = 2 });
        function.Start(emulator.RuntimeApiEndpoint);
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };
        // A function that is never frozen never reports "initialised" to the emulator: the first request waits for init.
        var first = ParsePid(await GetBackendPidAsync(client));
        var warm = await postgres.BackendPidsAsync(name);
        Assert.Equal(2, warm.Count);
        Assert.Contains(first, warm);

        // A gap longer than the threshold: on the default Lambda this clears the idle connections (see the tests above).
        await Task.Delay(ThawClearThreshold + TimeSpan.FromMilliseconds(500));

        Assert.Contains(ParsePid(await GetBackendPidAsync(client)), warm);
        Assert.Equal(warm, await postgres.BackendPidsAsync(name));
    }

    private async Task<FreezeResult> FreezeBreakAndThawAsync(Breakage breakage, bool integrationEnabled)
    {
        var name = $"lsh-freeze-{Guid.NewGuid():N}";
        var database = await postgres.CreateDatabaseAsync($"freeze_{Guid.NewGuid():N}");
        await using var relay = new TcpRelay(postgres.Port);
        var connectionString = postgres.ConnectionString(name, breakage == Breakage.SilentNetworkPath ? relay.Port : null);
        await using var function = new FunctionProcess(ExampleApp(connectionString, database, integrationEnabled, freeze: true));
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function });
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(Generous);
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };

        var warm = await postgres.BackendPidsAsync(name);
        if (integrationEnabled)
        {
            Assert.Equal(2, warm.Count); // warm start during init
        }

        var before = await GetBackendPidAsync(client);
        Assert.True(before.StatusCode == HttpStatusCode.OK, $"before the freeze: {before.StatusCode} {before.Body}\n{function.RecentOutput}");
        var pidBefore = ParsePid(before);

        await WaitUntilAsync(() => function.IsFrozen, "the function is frozen after its invocation");
        var frozen = Stopwatch.StartNew();
        if (breakage == Breakage.ServerEndedConnections)
        {
            Assert.True(await postgres.TerminateBackendsAsync(name) >= 1);
        }
        else
        {
            relay.Silence();
        }

        // The freeze lasts longer than the threshold, as a real one between sparse requests does.
        var remaining = ThawClearThreshold + TimeSpan.FromMilliseconds(500) - frozen.Elapsed;
        if (remaining > TimeSpan.Zero)
        {
            await Task.Delay(remaining);
        }

        Assert.True(function.IsFrozen, "the function stayed frozen while its connections were broken");
        var after = await GetBackendPidAsync(client);
        return new FreezeResult(warm, pidBefore, after.StatusCode == HttpStatusCode.OK ? ParsePid(after) : null, after, function.RecentOutput);
    }

    private static FunctionProcessOptions ExampleApp(string connectionString, string database, bool integrationEnabled, bool freeze) => new()
    {
        FileName = "dotnet",
        Arguments = [Path.Combine(AppContext.BaseDirectory, "StreamingApi.dll")],
        WorkingDirectory = AppContext.BaseDirectory,
        Freeze = freeze,
        Environment =
        {
            ["ConnectionStrings__Postgres"] = new NpgsqlConnectionStringBuilder(connectionString)
            {
                Database = database,
                CommandTimeout = CommandTimeoutSeconds,
                CancellationTimeout = 500,
            }.ConnectionString,
            ["LambdaStreaming__Database__Enabled"] = integrationEnabled ? "true" : "false",
            ["LambdaStreaming__Database__WarmConnections"] = "2",
            ["LambdaStreaming__Database__ThawClearThreshold"] = ThawClearThreshold.ToString(),
        },
    };

    private static async Task<Answer> GetBackendPidAsync(HttpClient client)
    {
        var stopwatch = Stopwatch.StartNew();
        using var response = await client.GetAsync("db/backend-pid");
        var body = await response.Content.ReadAsStringAsync();
        return new Answer(response.StatusCode, body, stopwatch.Elapsed);
    }

    private static int ParsePid(Answer answer) =>
        System.Text.Json.JsonSerializer.Deserialize<PidBody>(answer.Body, System.Text.Json.JsonSerializerOptions.Web)!.Pid;

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(waited.Elapsed < Generous, $"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }

    public sealed record Answer(HttpStatusCode StatusCode, string Body, TimeSpan Latency);

    private sealed record PidBody(int Pid);

    private sealed record FreezeResult(IReadOnlyList<int> WarmPids, int PidBefore, int? PidAfter, Answer After, string FunctionOutput);
}
