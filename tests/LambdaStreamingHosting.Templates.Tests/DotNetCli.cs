using System.Diagnostics;
using System.Text;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// Runs the <c>dotnet</c> CLI (or another program) as a user would, with a time limit, and keeps its output for the
/// assertion message.
/// </summary>
internal static class DotNetCli
{
    public sealed record Result(int ExitCode, string Output)
    {
        public IEnumerable<string> Lines => Output.Split('\n').Select(l => l.TrimEnd('\r'));

        /// <summary>Fails the test with the command's output when it did not succeed.</summary>
        public Result EnsureSuccess(string what)
        {
            Assert.True(ExitCode == 0, $"{what} failed with exit code {ExitCode}:\n{Tail(Output, 12_000)}");
            return this;
        }
    }

    public static Task<Result> RunAsync(IReadOnlyList<string> arguments, string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null) =>
        RunProgramAsync("dotnet", arguments, workingDirectory, timeout, environment);

    public static async Task<Result> RunProgramAsync(string fileName, IReadOnlyList<string> arguments, string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        SetEnvironment(start, environment);

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"{fileName} {string.Join(' ', arguments)} did not finish within {timeout}:\n{Tail(Snapshot(output), 12_000)}");
        }

        process.WaitForExit(); // flushes the asynchronous output readers
        return new Result(process.ExitCode, Snapshot(output));
    }

    /// <summary>Quiet, and leaves no MSBuild nodes or compiler servers running after the test; then <paramref name="environment"/>.</summary>
    public static void SetEnvironment(ProcessStartInfo start, IReadOnlyDictionary<string, string>? environment)
    {
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["UseSharedCompilation"] = "false";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    private static string Snapshot(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    /// <summary>The end of a long output, for a failure message.</summary>
    public static string Tail(string text, int length) => text.Length <= length ? text : "…" + text[^length..];
}
