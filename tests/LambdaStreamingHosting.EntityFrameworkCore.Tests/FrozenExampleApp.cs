using System.Diagnostics;
using System.Net;
using LambdaStreamingHosting.Testing;
using Npgsql;

namespace LambdaStreamingHosting.EntityFrameworkCore.Tests;

/// <summary>What happens to the pooled connections while the function is frozen.</summary>
public enum Breakage
{
    /// <summary>Nothing: the connections must be reused.</summary>
    None,

    /// <summary>The server ends them (<c>pg_terminate_backend</c>): each holds an unread FATAL 57P01, then a FIN.</summary>
    BackendsTerminated,

    /// <summary>The server restarts (<c>pg_ctl restart -m fast</c>): same as above, and the backends are gone for good.</summary>
    ServerRestarted,

    /// <summary>The network path goes silent: no FIN, no answer; new connections work.</summary>
    PathSilenced,
}

/// <summary>
/// The example app (<c>examples/StreamingApi</c> on PostgreSQL) as a separate process under the emulator, frozen with
/// <c>SIGSTOP</c> whenever it waits for an event. It serves its two pools: EF Core (<c>GET /db/backend-pid</c>, line
/// <c>AddLambdaDbContextLifecycle</c>) and an <c>NpgsqlDataSource</c> used directly (<c>GET /db/direct/backend-pid</c>,
/// line <c>AddLambdaNpgsqlDataSourceLifecycle</c>), both through a <see cref="TcpRelay"/> and with two warm connections.
/// </summary>
public static class FrozenExampleApp
{
    /// <summary>The example's command timeout: a request stuck on a silent connection fails after it.</summary>
    public const int CommandTimeoutSeconds = 5;

    /// <summary>The documented bound: a silent connection is given up after <c>ThawCheckTimeout</c> (default 1 s).</summary>
    public static readonly TimeSpan ThawCheckTimeout = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Starts the app, then for each of <paramref name="freezes"/>: serves one request per pool, breaks the connections
    /// the given way once the process is frozen, keeps it frozen that long (holding back the next request is the
    /// freeze), then serves one request per pool again: the data source first (its line checks at the thaw), then EF
    /// Core (checked on its open). One process serves every freeze: after each, the pools hold working connections again.
    /// </summary>
    public static async Task<IReadOnlyList<ThawOutcome>> FreezeBreakAndThawAsync(PostgresServer postgres, Breakage breakage, bool integrationEnabled, params TimeSpan[] freezes)
    {
        var name = $"lsh-thaw-{Guid.NewGuid():N}";
        var database = await postgres.CreateDatabaseAsync($"thaw_{Guid.NewGuid():N}");
        await using var relay = new TcpRelay(postgres.Port);
        await using var function = new FunctionProcess(Options(postgres.ConnectionString(name, relay.Port), database, integrationEnabled, freeze: true));
        var freezeSignal = new FreezeSignal(function);
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = freezeSignal });
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(Generous);
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };
        var warm = await postgres.BackendsAsync(name);

        var outcomes = new List<ThawOutcome>();
        foreach (var freeze in freezes)
        {
            var directBefore = await GetAsync(client, DirectPath);
            var efBefore = await GetAsync(client, EfPath);
            Assert.True(directBefore.StatusCode == HttpStatusCode.OK && efBefore.StatusCode == HttpStatusCode.OK,
                $"before the {freeze.TotalSeconds} s freeze: {directBefore.StatusCode} {directBefore.Body} / {efBefore.StatusCode} {efBefore.Body}\n{function.RecentOutput}");
            var before = await postgres.BackendsAsync(name);

            await freezeSignal.NextFreeze.WaitAsync(Generous);
            var frozen = Stopwatch.StartNew();
            switch (breakage)
            {
                case Breakage.BackendsTerminated:
                    Assert.Equal(before.Count, await postgres.TerminateBackendsAsync(name));
                    break;
                case Breakage.ServerRestarted:
                    await postgres.RestartAsync();
                    break;
                case Breakage.PathSilenced:
                    relay.Silence();
                    break;
            }

            if (freeze > frozen.Elapsed)
            {
                await Task.Delay(freeze - frozen.Elapsed); // the freeze itself, not a wait for something to happen
            }

            Assert.True(function.IsFrozen, "the function stayed frozen while its connections were broken");
            var direct = await GetAsync(client, DirectPath);
            var ef = await GetAsync(client, EfPath);
            var after = await postgres.BackendsAsync(name);
            outcomes.Add(new ThawOutcome(freeze, warm, before, after, directBefore, efBefore, direct, ef, function.RecentOutput));
        }

        return outcomes;
    }

    /// <summary>The example's environment: PostgreSQL through <paramref name="connectionString"/>, two warm connections per pool.</summary>
    public static FunctionProcessOptions Options(string connectionString, string database, bool integrationEnabled, bool freeze) => new()
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
        },
    };

    public const string EfPath = "db/backend-pid";

    public const string DirectPath = "db/direct/backend-pid";

    public static async Task<Answer> GetAsync(HttpClient client, string path)
    {
        var stopwatch = Stopwatch.StartNew();
        using var response = await client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        var pid = response.StatusCode == HttpStatusCode.OK
            ? System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("pid").GetInt32()
            : (int?)null;
        return new Answer(response.StatusCode, body, pid, stopwatch.Elapsed);
    }

    /// <summary>Passes the emulator's calls on to the process and completes <see cref="NextFreeze"/> once it is frozen.</summary>
    private sealed class FreezeSignal(FunctionProcess function) : IFunctionEnvironment
    {
        private volatile TaskCompletionSource _frozen = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the process is frozen after the last event handed to it.</summary>
        public Task NextFreeze => _frozen.Task;

        public ValueTask NextEventRequestedAsync(CancellationToken cancellationToken) => function.NextEventRequestedAsync(cancellationToken);

        public async ValueTask FreezeAsync(CancellationToken cancellationToken)
        {
            await function.FreezeAsync(cancellationToken);
            _frozen.TrySetResult();
        }

        public ValueTask ThawAsync(CancellationToken cancellationToken)
        {
            _frozen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return function.ThawAsync(cancellationToken);
        }

        public ValueTask ResetAsync(string reason, CancellationToken cancellationToken) => function.ResetAsync(reason, cancellationToken);
    }
}

public sealed record Answer(HttpStatusCode StatusCode, string Body, int? Pid, TimeSpan Latency);

/// <summary>The server connections (pid, start time) and answers around one freeze.</summary>
public sealed record ThawOutcome(
    TimeSpan Freeze,
    IReadOnlySet<(int Pid, DateTime Started)> Warm,
    IReadOnlySet<(int Pid, DateTime Started)> Before,
    IReadOnlySet<(int Pid, DateTime Started)> After,
    Answer DirectBefore,
    Answer EfBefore,
    Answer Direct,
    Answer Ef,
    string FunctionOutput)
{
    public IEnumerable<int> PidsBefore => Before.Select(b => b.Pid);

    public override string ToString() =>
        $"after a {Freeze.TotalSeconds} s freeze:\ndirect: {Direct.StatusCode} in {Direct.Latency.TotalMilliseconds:0} ms {Direct.Body}\nEF: {Ef.StatusCode} in {Ef.Latency.TotalMilliseconds:0} ms {Ef.Body}\n" +
        $"before: {string.Join(", ", Before)}\nafter: {string.Join(", ", After)}\n{FunctionOutput}";
}
