using System.Net;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.EntityFrameworkCore.Tests;

/// <summary>
/// The example app (<c>examples/StreamingApi</c> on PostgreSQL) as a separate process under the emulator, over many
/// invocations and on Lambda Managed Instances. The freezes that break connections are in <c>ThawAfterFreezeTests</c>.
/// </summary>
[Collection(PostgresTests.Name)]
public sealed class FrozenFunctionTests(PostgresServer postgres)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Over_1000_invocations_contexts_and_connections_go_back_to_their_pools()
    {
        var name = $"lsh-leak-{Guid.NewGuid():N}";
        var database = await postgres.CreateDatabaseAsync($"leak_{Guid.NewGuid():N}");
        // Not frozen, so the loop runs fast; the server still calls the thaw and freezing hooks between invocations, so
        // every invocation checks the pools it uses.
        await using var function = new FunctionProcess(FrozenExampleApp.Options(postgres.ConnectionString(name), database, integrationEnabled: true, freeze: false));
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function });
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(Generous);
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };
        var warm = await postgres.BackendsAsync(name);
        Assert.Equal(4, warm.Count); // two per pool
        var warmPids = warm.Select(b => b.Pid).ToHashSet();

        string[] paths = [FrozenExampleApp.EfPath, "notes", FrozenExampleApp.DirectPath];
        for (var i = 0; i < 1000; i++)
        {
            // A plain query, a streamed one (the connection is held while the body streams), one without EF Core.
            var path = paths[i % paths.Length];
            var answer = path == "notes" ? null : await FrozenExampleApp.GetAsync(client, path);
            if (answer is null)
            {
                using var response = await client.GetAsync(path);
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"invocation {i}: {response.StatusCode}\n{function.RecentOutput}");
            }
            else
            {
                Assert.True(answer.StatusCode == HttpStatusCode.OK, $"invocation {i}: {answer.StatusCode} {answer.Body}\n{function.RecentOutput}");
                Assert.Contains(answer.Pid!.Value, warmPids);
            }

            if (i % 200 == 199)
            {
                Assert.True(warm.SetEquals(await postgres.BackendsAsync(name)), $"after invocation {i}");
            }
        }

        Assert.True(warm.SetEquals(await postgres.BackendsAsync(name)));
    }

    [Fact]
    public async Task On_Managed_Instances_a_long_gap_clears_nothing_because_the_environment_is_never_frozen()
    {
        var name = $"lsh-managed-{Guid.NewGuid():N}";
        var database = await postgres.CreateDatabaseAsync($"managed_{Guid.NewGuid():N}");
        var threshold = TimeSpan.FromSeconds(1);
        var app = FrozenExampleApp.Options(postgres.ConnectionString(name), database, integrationEnabled: true, freeze: false);
        app.Environment["AWS_LAMBDA_MAX_CONCURRENCY"] = "2";
        app.Environment["AWS_LAMBDA_INITIALIZATION_TYPE"] = "lambda-managed-instances";
        app.Environment["LambdaStreaming__Database__ThawClearThreshold"] = threshold.ToString();
        await using var function = new FunctionProcess(app);
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function, MaxConcurrency = 2 });
        function.Start(emulator.RuntimeApiEndpoint);
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };
        // A function that is never frozen never reports "initialised" to the emulator: the first request waits for init.
        var first = await FrozenExampleApp.GetAsync(client, FrozenExampleApp.EfPath);
        var warm = await postgres.BackendsAsync(name);
        Assert.Equal(4, warm.Count);
        Assert.Contains(first.Pid!.Value, warm.Select(b => b.Pid));

        // The gap under test: longer than the threshold, which on the default Lambda clears the idle connections.
        await Task.Delay(threshold + TimeSpan.FromMilliseconds(500));

        Assert.Contains((await FrozenExampleApp.GetAsync(client, FrozenExampleApp.EfPath)).Pid!.Value, warm.Select(b => b.Pid));
        Assert.True(warm.SetEquals(await postgres.BackendsAsync(name)));
    }
}
