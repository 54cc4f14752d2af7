using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.Tool.Tests;

/// <summary>
/// SnapStart as Lambda runs it, with a real .NET function (FunctionApp) as a separate process under the emulator: the
/// snapshot is a real freeze (<c>SIGSTOP</c>) while the function waits on <c>/restore/next</c>, the restore a
/// <c>SIGCONT</c> when the first event arrives; the after-restore limit and <c>/restore/error</c>.
/// </summary>
public sealed partial class SnapStartUnderEmulatorTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_snapshot_freezes_the_function_at_restore_next_after_its_warm_ups_and_the_first_event_restores_it()
    {
        var output = new OutputLines();
        var options = SnapStartOptions(output);
        options.Environment["LambdaStreaming__WarmUp__Requests__0__Path"] = "/snapstart";
        await using var function = new FunctionProcess(options);
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function, SnapStart = true });
        function.Start(emulator.RuntimeApiEndpoint);

        await function.WaitUntilInitializedAsync(Generous);

        // Frozen while it waits on /restore/next: the warm-ups and the before-snapshot hook ran, the after-restore one not.
        var pid = function.ProcessId!.Value;
        Assert.True(function.IsFrozen);
        Assert.True(ProcessInspector.IsStopped(pid), $"thread states: {string.Join(',', ProcessInspector.ThreadStates(pid))}");
        await output.WaitForAsync(BeforeSnapshotLine());
        Assert.DoesNotContain("after-restore ran", output.Lines);
        Assert.Empty(emulator.Invocations);

        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };
        Assert.Equal("init-type:snap-start warm-ups:5 hooks:before-snapshot,after-restore", await client.GetStringAsync("snapstart"));
        Assert.Equal(pid.ToString(CultureInfo.InvariantCulture), await client.GetStringAsync("pid"));
        await ProcessInspector.WaitUntilAsync(() => ProcessInspector.IsStopped(pid), "the function is frozen again after its invocation");

        Assert.Equal(1, function.StartCount);
        Assert.Equal(["before-snapshot ran after 5 warm-up(s)", "after-restore ran"], output.Lines.Where(line => line.EndsWith(" ran", StringComparison.Ordinal) || line.StartsWith("before-snapshot", StringComparison.Ordinal)));
        Assert.Equal(2, emulator.Invocations.Count); // the warm-ups never reached the Runtime API
    }

    [Fact]
    public async Task After_restore_work_past_the_limit_fails_the_event_with_SnapStartTimeoutException_and_resets()
    {
        var output = new OutputLines();
        var options = SnapStartOptions(output);
        options.Environment["FUNCTIONAPP_AFTER_RESTORE"] = "hang";
        await using var function = new FunctionProcess(options);
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions
        {
            Environment = function,
            SnapStart = true,
            RestoreTimeout = TimeSpan.FromSeconds(1),
            Strict = false,
        });
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(Generous);
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };

        using var response = await client.GetAsync("pid");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("SnapStartTimeoutException", emulator.Invocations[0].ErrorType);
        Assert.Contains("within 1 s of the restore", emulator.Invocations[0].ErrorMessage, StringComparison.Ordinal);
        await output.WaitForAsync(ResetLine("SnapStartTimeoutException"));
    }

    [Fact]
    public async Task A_failed_after_restore_hook_reaches_restore_error_and_fails_the_event_with_SnapStartException()
    {
        var output = new OutputLines();
        var options = SnapStartOptions(output);
        options.Environment["FUNCTIONAPP_AFTER_RESTORE"] = "throw";
        await using var function = new FunctionProcess(options);
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function, SnapStart = true, Strict = false });
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(Generous);
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };

        using var response = await client.GetAsync("pid");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var record = emulator.Invocations[0];
        Assert.Equal("SnapStartException", record.ErrorType);
        Assert.Contains("(InvalidOperationException): after-restore failed on purpose", record.ErrorMessage, StringComparison.Ordinal);
        await output.WaitForAsync(ResetLine("SnapStartException"));
    }

    private static FunctionProcessOptions SnapStartOptions(OutputLines output)
    {
        var options = FunctionApp.ProcessOptions(freeze: true, output);
        options.SnapStart = true;
        return options;
    }

    private static Regex ResetLine(string reason) => new($"resetting the function \\({reason}\\)");

    [GeneratedRegex("^before-snapshot ran after 5 warm-up\\(s\\)$")]
    private static partial Regex BeforeSnapshotLine();
}
