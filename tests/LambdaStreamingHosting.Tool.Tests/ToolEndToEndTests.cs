using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace LambdaStreamingHosting.Tool.Tests;

/// <summary>The real tool process running the real test function; requests over real sockets; stopped with real signals.</summary>
public sealed partial class ToolEndToEndTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task The_tool_streams_through_the_Function_URL_prints_each_invocation_and_stops_cleanly_on_SIGINT()
    {
        using var gate = new NamedPipe();
        using var tool = ToolProcess.Start("run", "--port", "0", "--freeze", "--", "dotnet", FunctionApp.AssemblyPath);
        var functionPid = int.Parse((await tool.Output.WaitForAsync(StartedLine(), timeout: Generous)).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var url = new Uri((await tool.Output.WaitForAsync(FunctionUrlLine(), timeout: Generous)).Groups[1].Value);
        Assert.Contains(tool.Output.Lines, line => line.Contains("(RESPONSE_STREAM, timeout 30 s, freeze on)", StringComparison.Ordinal));
        await ProcessInspector.WaitUntilAsync(() => ProcessInspector.IsStopped(functionPid), "the idle function is frozen");
        using var client = new HttpClient { BaseAddress = url, Timeout = Generous };

        using var response = await client.GetAsync($"stream?gate={Uri.EscapeDataString(gate.Path)}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        // The function is still blocked on the gate, so this line can only have arrived by streaming.
        Assert.Equal("first", await reader.ReadLineAsync().WaitAsync(Generous));
        Assert.DoesNotContain(tool.Output.Lines, line => line.StartsWith("invoke ", StringComparison.Ordinal));
        await gate.OpenAsync();
        Assert.Equal("second", await reader.ReadLineAsync());
        Assert.Null(await reader.ReadLineAsync());

        var invocation = await tool.Output.WaitForAsync(InvocationLine(), timeout: Generous);
        Assert.Equal("GET", invocation.Groups["method"].Value);
        Assert.Equal("200", invocation.Groups["status"].Value);
        Assert.Equal("13", invocation.Groups["bytes"].Value); // "first\nsecond\n"
        Assert.NotEqual("-", invocation.Groups["ttfb"].Value);

        await tool.SignalAsync("INT");

        Assert.Equal(0, await tool.WaitForExitAsync(Generous));
        Assert.Contains("lambda-streaming: stopped", tool.Output.Lines);
        Assert.True(ProcessInspector.IsGone(functionPid), "the function process was killed");
    }

    [Fact]
    public async Task The_tool_builds_a_project_runs_it_buffered_and_stops_cleanly_on_SIGTERM()
    {
        using var artifacts = new TemporaryDirectory();
        using var tool = ToolProcess.Start(
            "run", "--project", FunctionApp.ProjectDirectory, "--artifacts-path", artifacts.Path, "--port", "0", "--buffered", "--timeout", "10s", "--env", "GREETING=hi");
        var url = new Uri((await tool.Output.WaitForAsync(FunctionUrlLine(), timeout: TimeSpan.FromMinutes(4))).Groups[1].Value);
        Assert.Contains(tool.Output.Lines, line => line.Contains("(BUFFERED, timeout 10 s, freeze off)", StringComparison.Ordinal));
        // Built in Release into the given artifacts folder, then run from there.
        Assert.True(File.Exists(Path.Combine(artifacts.Path, "bin", "FunctionApp", "release", "FunctionApp.dll")));
        Assert.Contains(tool.Output.Lines, line => line.StartsWith($"lambda-streaming: started dotnet {artifacts.Path}", StringComparison.Ordinal));
        using var client = new HttpClient { BaseAddress = url, Timeout = Generous };

        // The app was told the invoke mode, so app and Function URL agree; user variables reach it too.
        Assert.Equal("Buffered", await client.GetStringAsync("env/LambdaStreaming__InvokeMode"));
        Assert.Equal("hi", await client.GetStringAsync("env/GREETING"));
        Assert.Equal("hello from function", await client.GetStringAsync(""));
        await tool.Output.WaitForAsync(new Regex(@"^invoke \S+  GET /  200  19 B  ttfb "), timeout: Generous);

        await tool.SignalAsync("TERM");

        Assert.Equal(0, await tool.WaitForExitAsync(Generous));
        Assert.Contains("lambda-streaming: stopped", tool.Output.Lines);
    }

    [Fact]
    public async Task A_function_that_dies_during_init_fails_the_tool_with_its_exit_code_and_output()
    {
        using var tool = ToolProcess.Start("run", "--port", "0", "--", "/bin/sh", "-c", "echo 'missing setting Db' >&2; exit 4");

        Assert.Equal(1, await tool.WaitForExitAsync(Generous));

        Assert.Contains(tool.Errors.Lines, line => line.Contains("exited with code 4", StringComparison.Ordinal));
        Assert.Contains("missing setting Db", tool.Errors.Lines);
        Assert.DoesNotContain(tool.Output.Lines, line => line.Contains("Function URL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_port_in_use_fails_the_tool_with_advice()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var tool = ToolProcess.Start("run", "--port", port, "--", "dotnet", FunctionApp.AssemblyPath);

        Assert.Equal(1, await tool.WaitForExitAsync(Generous));

        Assert.Contains(tool.Errors.Lines, line => line.Contains($"Could not listen on port {port}", StringComparison.Ordinal) && line.Contains("--port 0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_usage_error_exits_with_2()
    {
        using var tool = ToolProcess.Start("run", "--timeout", "forever", "--", "dotnet", "App.dll");

        Assert.Equal(2, await tool.WaitForExitAsync(Generous));

        Assert.Contains(tool.Errors.Lines, line => line.Contains("Invalid --timeout 'forever'", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"^lambda-streaming: started .* \(process (\d+)\)$")]
    private static partial Regex StartedLine();

    [GeneratedRegex(@"^lambda-streaming: Function URL (http://127\.0\.0\.1:\d+/) ")]
    private static partial Regex FunctionUrlLine();

    [GeneratedRegex(@"^invoke (?<id>[0-9a-f-]{36})  (?<method>\S+) (?<target>\S+)  (?<status>\d{3})  (?<bytes>\d+) B  ttfb (?<ttfb>[\d.]+ ms|-)  (?<duration>[\d.]+) ms$")]
    private static partial Regex InvocationLine();
}

/// <summary>A named pipe (FIFO): a reader blocks until the test opens it for writing, a signal that needs no timing.</summary>
internal sealed class NamedPipe : IDisposable
{
    private readonly TemporaryDirectory _directory = new();

    public NamedPipe()
    {
        Path = System.IO.Path.Combine(_directory.Path, "gate");
        using var mkfifo = Process.Start("mkfifo", [Path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    public string Path { get; }

    public async Task OpenAsync()
    {
        await using var writer = new FileStream(Path, FileMode.Open, FileAccess.Write);
        await writer.WriteAsync(Encoding.UTF8.GetBytes("go"));
    }

    public void Dispose() => _directory.Dispose();
}
