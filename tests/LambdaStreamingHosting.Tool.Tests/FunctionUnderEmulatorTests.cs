using System.Globalization;
using System.Net;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.Tool.Tests;

/// <summary>A real .NET function (FunctionApp) as a separate process under the real emulator, frozen with real signals.</summary>
public sealed class FunctionUnderEmulatorTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_idle_function_is_frozen_and_each_event_thaws_it_in_the_same_warm_process()
    {
        var output = new OutputLines();
        await using var function = new FunctionProcess(FunctionApp.ProcessOptions(freeze: true, output));
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function });
        function.Start(emulator.RuntimeApiEndpoint);

        await function.WaitUntilInitializedAsync(Generous);

        var pid = function.ProcessId!.Value;
        Assert.True(function.IsFrozen);
        Assert.True(ProcessInspector.IsStopped(pid), $"thread states: {string.Join(',', ProcessInspector.ThreadStates(pid))}");
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };
        for (var invocation = 1; invocation <= 3; invocation++)
        {
            Assert.Equal(pid.ToString(CultureInfo.InvariantCulture), await client.GetStringAsync("pid"));
            await ProcessInspector.WaitUntilAsync(() => ProcessInspector.IsStopped(pid), $"the function is frozen again after invocation {invocation}");
        }

        Assert.Equal(1, function.StartCount);
        Assert.All(emulator.Invocations, record => Assert.Equal(200, record.StatusCode));
    }

    [Fact]
    public async Task The_function_sees_the_Lambda_environment_of_its_dotnet_assembly()
    {
        var output = new OutputLines();
        await using var function = new FunctionProcess(FunctionApp.ProcessOptions(freeze: false, output));
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function });
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(Generous);
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };

        Assert.Equal(emulator.RuntimeApiEndpoint, await client.GetStringAsync("env/AWS_LAMBDA_RUNTIME_API"));
        Assert.Equal("FunctionApp", await client.GetStringAsync("env/_HANDLER"));
        Assert.Equal(Path.GetDirectoryName(FunctionApp.AssemblyPath), await client.GetStringAsync("env/LAMBDA_TASK_ROOT"));
        Assert.Equal("hello from function", await client.GetStringAsync(""));
    }

    [Fact]
    public async Task A_timed_out_invocation_resets_the_function_and_the_next_one_is_a_cold_start_in_a_new_process()
    {
        var output = new OutputLines();
        await using var function = new FunctionProcess(FunctionApp.ProcessOptions(freeze: true, output));
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function, Timeout = TimeSpan.FromSeconds(10) });
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(Generous);
        var firstPid = function.ProcessId!.Value;
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };

        using var hung = await client.GetAsync("hang");

        Assert.Equal(HttpStatusCode.BadGateway, hung.StatusCode);
        using var afterReset = await client.GetAsync("pid");
        Assert.True(afterReset.IsSuccessStatusCode, $"{afterReset.StatusCode}; log: {string.Join(" | ", emulator.Invocations)}; output: {string.Join(Environment.NewLine, output.Lines)}");
        var secondPid = int.Parse(await afterReset.Content.ReadAsStringAsync(), CultureInfo.InvariantCulture);
        Assert.NotEqual(firstPid, secondPid);
        Assert.Equal(secondPid, function.ProcessId);
        Assert.Equal(2, function.StartCount);
        Assert.True(ProcessInspector.IsGone(firstPid));
        Assert.Equal("Sandbox.Timedout", emulator.Invocations[0].ErrorType);
        Assert.Contains(output.Lines, line => line.Contains("resetting the function (Sandbox.Timedout)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_Managed_Instances_concurrency_the_function_initialises_and_is_never_frozen()
    {
        var output = new OutputLines();
        var options = FunctionApp.ProcessOptions(freeze: true, output);
        options.Environment["AWS_LAMBDA_MAX_CONCURRENCY"] = "2";
        await using var function = new FunctionProcess(options);
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function, MaxConcurrency = 2 });
        function.Start(emulator.RuntimeApiEndpoint);

        // Initialisation is reported by /next itself, not by a freeze (Managed Instances never freeze).
        await function.WaitUntilInitializedAsync(Generous);

        var pid = function.ProcessId!.Value;
        Assert.False(function.IsFrozen);
        Assert.False(ProcessInspector.IsStopped(pid));
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };
        Assert.Equal(pid.ToString(CultureInfo.InvariantCulture), await client.GetStringAsync("pid"));
        Assert.False(function.IsFrozen);
    }
}
