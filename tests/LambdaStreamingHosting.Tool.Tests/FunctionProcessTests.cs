using System.Globalization;
using System.Text.RegularExpressions;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.Tool.Tests;

/// <summary>
/// <see cref="FunctionProcess"/> on real child processes (a shell script standing in for the function), driven through
/// the <see cref="IFunctionEnvironment"/> seam exactly as the emulator drives it, checked against /proc.
/// </summary>
public sealed partial class FunctionProcessTests
{
    // Stands in for "no emulator": these processes never call the Runtime API.
    private const string UnusedEndpoint = "127.0.0.1:9";

    // A parent with a long-lived child (printed as "child <pid>") that prints a numbered tick every 50 ms.
    private const string TickingScript = "sleep 600 & echo child $!; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done";

    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Freeze_stops_every_thread_of_the_process_and_its_children_and_thaw_resumes_them()
    {
        var output = new OutputLines();
        await using var function = new FunctionProcess(Shell(TickingScript, output, freeze: true));
        function.Start(UnusedEndpoint);
        var child = int.Parse((await output.WaitForAsync(ChildLine())).Groups[1].Value, CultureInfo.InvariantCulture);
        var pid = function.ProcessId!.Value;
        await output.WaitForAsync(TickLine());
        Assert.True(ProcessInspector.IsRunning(pid));

        await function.FreezeAsync(CancellationToken.None);

        Assert.True(function.IsFrozen);
        Assert.True(ProcessInspector.IsStopped(pid), $"process states: {string.Join(',', ProcessInspector.ThreadStates(pid))}");
        Assert.True(ProcessInspector.IsStopped(child), $"child states: {string.Join(',', ProcessInspector.ThreadStates(child))}");
        // Including the short-lived "sleep 0.05" the loop was starting when the freeze came.
        Assert.All(ProcessInspector.Children(pid), other => Assert.True(ProcessInspector.IsStopped(other) || ProcessInspector.IsGone(other), $"child {other} runs"));

        await function.ThawAsync(CancellationToken.None);

        Assert.False(function.IsFrozen);
        Assert.True(ProcessInspector.IsRunning(pid), $"process states: {string.Join(',', ProcessInspector.ThreadStates(pid))}");
        Assert.True(ProcessInspector.IsRunning(child), $"child states: {string.Join(',', ProcessInspector.ThreadStates(child))}");
        var ticksAtThaw = output.Count;
        await output.WaitForAsync(TickLine(), after: ticksAtThaw); // it runs again
    }

    [Fact]
    public async Task Without_Freeze_the_idle_function_keeps_running_but_counts_as_initialised()
    {
        var output = new OutputLines();
        await using var function = new FunctionProcess(Shell(TickingScript, output, freeze: false));
        function.Start(UnusedEndpoint);
        var initialised = function.WaitUntilInitializedAsync(Generous);
        await output.WaitForAsync(TickLine());
        Assert.False(initialised.IsCompleted);

        await function.FreezeAsync(CancellationToken.None);

        await initialised;
        Assert.False(function.IsFrozen);
        Assert.True(ProcessInspector.IsRunning(function.ProcessId!.Value));
        await output.WaitForAsync(TickLine(), after: output.Count);
    }

    [Fact]
    public async Task WaitUntilInitialized_fails_with_the_exit_code_and_the_last_output_when_the_process_dies_first()
    {
        var errors = new OutputLines();
        await using var function = new FunctionProcess(Shell("echo starting; echo 'fatal: connection string missing' >&2; exit 3", new OutputLines(), freeze: true, errors));
        function.Start(UnusedEndpoint);

        var exception = await Assert.ThrowsAsync<InvalidOperationException>(() => function.WaitUntilInitializedAsync(Generous));

        Assert.Contains("exited with code 3", exception.Message, StringComparison.Ordinal);
        Assert.Contains("fatal: connection string missing", exception.Message, StringComparison.Ordinal);
        Assert.Contains("starting", exception.Message, StringComparison.Ordinal);
        Assert.Equal(3, await function.WaitForExitAsync());
        Assert.Contains("fatal: connection string missing", errors.Lines);
    }

    [Fact]
    public async Task WaitUntilInitialized_times_out_with_a_hint_when_the_function_never_asks_for_an_event()
    {
        await using var function = new FunctionProcess(Shell("echo listening on http://localhost:5000; sleep 600", new OutputLines(), freeze: false));
        function.Start(UnusedEndpoint);

        var exception = await Assert.ThrowsAsync<TimeoutException>(() => function.WaitUntilInitializedAsync(TimeSpan.FromMilliseconds(300)));

        Assert.Contains("AddLambdaStreaming()", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reset_kills_the_frozen_process_tree_and_starts_a_cold_one()
    {
        var output = new OutputLines();
        await using var function = new FunctionProcess(Shell(TickingScript, output, freeze: true));
        function.Start(UnusedEndpoint);
        var firstChild = int.Parse((await output.WaitForAsync(ChildLine())).Groups[1].Value, CultureInfo.InvariantCulture);
        var firstPid = function.ProcessId!.Value;
        await function.FreezeAsync(CancellationToken.None);
        await function.WaitUntilInitializedAsync(Generous);
        Assert.True(ProcessInspector.IsStopped(firstPid));

        await function.ResetAsync("Sandbox.Timedout", CancellationToken.None);

        Assert.False(function.IsFrozen);
        Assert.Equal(2, function.StartCount);
        var secondPid = function.ProcessId!.Value;
        Assert.NotEqual(firstPid, secondPid);
        Assert.True(ProcessInspector.IsGone(firstPid));
        await ProcessInspector.WaitUntilAsync(() => ProcessInspector.IsGone(firstChild), $"the old child {firstChild} is gone");
        var secondChild = int.Parse((await output.WaitForAsync(ChildLine(), after: output.IndexOf($"child {firstChild}") + 1)).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.NotEqual(firstChild, secondChild);
        Assert.True(ProcessInspector.IsRunning(secondPid));
        // A cold start: not initialised until it asks for an event again.
        Assert.False(function.WaitUntilInitializedAsync(Generous).IsCompleted);
    }

    [Fact]
    public async Task DisposeAsync_kills_a_frozen_process_and_its_children()
    {
        var output = new OutputLines();
        var function = new FunctionProcess(Shell(TickingScript, output, freeze: true));
        function.Start(UnusedEndpoint);
        var child = int.Parse((await output.WaitForAsync(ChildLine())).Groups[1].Value, CultureInfo.InvariantCulture);
        var pid = function.ProcessId!.Value;
        await function.FreezeAsync(CancellationToken.None);

        await function.DisposeAsync();

        Assert.True(ProcessInspector.IsGone(pid));
        await ProcessInspector.WaitUntilAsync(() => ProcessInspector.IsGone(child), $"child {child} is gone");
        // The emulator may still call the seam while it stops: nothing happens.
        await function.FreezeAsync(CancellationToken.None);
        await function.ThawAsync(CancellationToken.None);
    }

    [Fact]
    public async Task DisposeAsync_does_not_hang_when_an_escaped_grandchild_holds_the_output_open()
    {
        var output = new OutputLines();
        var function = new FunctionProcess(Shell("(sleep 600 & echo escaped $!); sleep 600", output, freeze: false));
        function.Start(UnusedEndpoint);
        var escaped = int.Parse((await output.WaitForAsync(new Regex(@"^escaped (\d+)$"))).Groups[1].Value, CultureInfo.InvariantCulture);
        var pid = function.ProcessId!.Value;
        try
        {
            await function.DisposeAsync().AsTask().WaitAsync(Generous);

            Assert.True(ProcessInspector.IsGone(pid));
        }
        finally
        {
            using var leftover = System.Diagnostics.Process.GetProcessById(escaped);
            leftover.Kill();
        }
    }

    [Fact]
    public async Task The_function_gets_the_Lambda_environment_with_user_variables_winning()
    {
        using var taskRoot = new TemporaryDirectory();
        var options = new FunctionProcessOptions
        {
            FileName = "sleep",
            Arguments = ["600"],
            WorkingDirectory = taskRoot.Path,
            FunctionName = "orders",
            MemorySize = 1024,
            Environment = { ["AWS_REGION"] = "eu-west-3", ["MY_SETTING"] = "on", ["HOME"] = null },
        };
        await using var function = new FunctionProcess(options);
        function.Start("127.0.0.1:40123");

        var environment = await ProcessInspector.EnvironmentAsync(function.ProcessId!.Value);

        Assert.Equal("127.0.0.1:40123", environment["AWS_LAMBDA_RUNTIME_API"]);
        Assert.Equal("orders", environment["AWS_LAMBDA_FUNCTION_NAME"]);
        Assert.Equal("1024", environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]);
        Assert.Equal("$LATEST", environment["AWS_LAMBDA_FUNCTION_VERSION"]);
        Assert.Equal("on-demand", environment["AWS_LAMBDA_INITIALIZATION_TYPE"]);
        Assert.Equal("sleep", environment["_HANDLER"]);
        Assert.Equal("/aws/lambda/orders", environment["AWS_LAMBDA_LOG_GROUP_NAME"]);
        Assert.Matches(@"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$", environment["AWS_LAMBDA_LOG_STREAM_NAME"]);
        Assert.Equal(taskRoot.Path, environment["LAMBDA_TASK_ROOT"]);
        Assert.Equal("eu-west-3", environment["AWS_REGION"]);
        Assert.Equal("on", environment["MY_SETTING"]);
        Assert.False(environment.ContainsKey("HOME"));
    }

    [Fact]
    public async Task A_handler_is_the_functions_HANDLER_and_makes_the_working_directory_its_task_root()
    {
        using var code = new TemporaryDirectory();
        // A program given by path: without a handler, its folder (/bin) would be the task root.
        await using var function = new FunctionProcess(new FunctionProcessOptions
        {
            FileName = "/bin/sleep",
            Arguments = ["600"],
            WorkingDirectory = code.Path,
            Handler = "src/index.handler",
        });
        function.Start(UnusedEndpoint);

        var environment = await ProcessInspector.EnvironmentAsync(function.ProcessId!.Value);

        Assert.Equal("src/index.handler", environment["_HANDLER"]);
        Assert.Equal(code.Path, environment["LAMBDA_TASK_ROOT"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("index handler")]
    [InlineData("index.handler\n")]
    public void A_handler_Lambda_would_refuse_is_refused_up_front(string handler)
    {
        var exception = Assert.Throws<ArgumentException>(() => new FunctionProcess(new FunctionProcessOptions { FileName = "node", Handler = handler }));

        Assert.Contains("a Lambda handler has 1 to 128 characters and no white space", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_start_gets_its_own_log_stream_as_a_new_execution_environment()
    {
        await using var function = new FunctionProcess(new FunctionProcessOptions { FileName = "sleep", Arguments = ["600"] });
        function.Start(UnusedEndpoint);
        var first = (await ProcessInspector.EnvironmentAsync(function.ProcessId!.Value))["AWS_LAMBDA_LOG_STREAM_NAME"];

        await function.ResetAsync("Runtime.ExitError", CancellationToken.None);

        Assert.NotEqual(first, (await ProcessInspector.EnvironmentAsync(function.ProcessId!.Value))["AWS_LAMBDA_LOG_STREAM_NAME"]);
    }

    [Fact]
    public async Task Freezing_a_process_that_has_exited_fails_with_its_exit_code()
    {
        var output = new OutputLines();
        await using var function = new FunctionProcess(Shell("echo bye; exit 7", output, freeze: true));
        function.Start(UnusedEndpoint);
        Assert.Equal(7, await function.WaitForExitAsync().WaitAsync(Generous));

        var exception = await Assert.ThrowsAsync<InvalidOperationException>(() => function.FreezeAsync(CancellationToken.None).AsTask());

        Assert.Contains("exited with code 7", exception.Message, StringComparison.Ordinal);
        Assert.Contains("bye", exception.Message, StringComparison.Ordinal);
        Assert.False(function.IsFrozen);
    }

    [Fact]
    public async Task Standard_output_and_error_lines_reach_their_callbacks_and_the_recent_output()
    {
        var output = new OutputLines();
        var errors = new OutputLines();
        await using var function = new FunctionProcess(Shell("echo to-out; echo to-err >&2; sleep 600", output, freeze: false, errors));
        function.Start(UnusedEndpoint);

        await output.WaitForAsync(new Regex("^to-out$"));
        await errors.WaitForAsync(new Regex("^to-err$"));

        Assert.DoesNotContain("to-err", output.Lines);
        Assert.DoesNotContain("to-out", errors.Lines);
        Assert.Contains("to-out", function.RecentOutput, StringComparison.Ordinal);
        Assert.Contains("to-err", function.RecentOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void Starting_a_missing_program_fails_with_a_clear_message()
    {
        var function = new FunctionProcess(new FunctionProcessOptions { FileName = "/nonexistent/function-binary" });

        var exception = Assert.Throws<InvalidOperationException>(() => function.Start(UnusedEndpoint));

        Assert.Contains("/nonexistent/function-binary", exception.Message, StringComparison.Ordinal);
        Assert.Null(function.ProcessId);
    }

    [Fact]
    public async Task Starting_twice_is_refused()
    {
        await using var function = new FunctionProcess(new FunctionProcessOptions { FileName = "sleep", Arguments = ["600"] });
        function.Start(UnusedEndpoint);

        var exception = Assert.Throws<InvalidOperationException>(() => function.Start(UnusedEndpoint));

        Assert.Contains("ResetAsync", exception.Message, StringComparison.Ordinal);
        Assert.Equal(1, function.StartCount);
    }

    [Theory]
    [InlineData("", 512, "FileName")]
    [InlineData("dotnet", 64, "MemorySize")]
    public void Invalid_options_are_refused_with_the_setting_to_change(string fileName, int memorySize, string setting)
    {
        var exception = Assert.ThrowsAny<ArgumentException>(() => new FunctionProcess(new FunctionProcessOptions { FileName = fileName, MemorySize = memorySize }));

        Assert.Contains("FunctionProcessOptions." + setting, exception.Message, StringComparison.Ordinal);
    }

    private static FunctionProcessOptions Shell(string script, OutputLines output, bool freeze, OutputLines? errors = null) => new()
    {
        FileName = "/bin/sh",
        Arguments = ["-c", script],
        Freeze = freeze,
        StandardOutput = output.Add,
        StandardError = errors is null ? null : errors.Add,
    };

    [GeneratedRegex(@"^child (\d+)$")]
    private static partial Regex ChildLine();

    [GeneratedRegex(@"^tick \d+$")]
    private static partial Regex TickLine();
}

/// <summary>Collects the lines of one output stream and lets a test wait for a line (a signal, not a sleep).</summary>
internal sealed class OutputLines
{
    private readonly List<string> _lines = [];
    private readonly List<(Regex Pattern, int After, TaskCompletionSource<Match> Waiter)> _waiters = [];

    public int Count
    {
        get
        {
            lock (_lines)
            {
                return _lines.Count;
            }
        }
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public int IndexOf(string line)
    {
        lock (_lines)
        {
            return _lines.IndexOf(line);
        }
    }

    public void Add(string line)
    {
        lock (_lines)
        {
            _lines.Add(line);
            for (var index = _waiters.Count - 1; index >= 0; index--)
            {
                var (pattern, after, waiter) = _waiters[index];
                if (_lines.Count - 1 >= after && pattern.Match(line) is { Success: true } match)
                {
                    waiter.TrySetResult(match);
                    _waiters.RemoveAt(index);
                }
            }
        }
    }

    /// <summary>Waits for the first line at or after index <paramref name="after"/> that matches.</summary>
    public Task<Match> WaitForAsync(Regex pattern, int after = 0, TimeSpan? timeout = null)
    {
        var waiter = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lines)
        {
            for (var index = Math.Max(after, 0); index < _lines.Count; index++)
            {
                if (pattern.Match(_lines[index]) is { Success: true } match)
                {
                    return Task.FromResult(match);
                }
            }

            _waiters.Add((pattern, after, waiter));
        }

        return WaitAsync(waiter.Task, pattern, timeout ?? TimeSpan.FromSeconds(60));
    }

    private async Task<Match> WaitAsync(Task<Match> match, Regex pattern, TimeSpan timeout)
    {
        try
        {
            return await match.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No line matched /{pattern}/ within {timeout}. Lines:{Environment.NewLine}{string.Join(Environment.NewLine, Lines)}");
        }
    }
}

/// <summary>A folder deleted after the test.</summary>
internal sealed class TemporaryDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("lambda-streaming-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
