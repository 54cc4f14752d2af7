using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>A bash script running as a process, its output kept line by line, so a test can wait for a line it prints.</summary>
internal sealed class ShellScript : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly List<(Regex Pattern, TaskCompletionSource<Match> Waiter)> _waiters = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ShellScript(Process process) => _process = process;

    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_lines)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    /// <summary>Starts <c>bash -c <paramref name="script"/></c> in <paramref name="workingDirectory"/>.</summary>
    public static ShellScript Start(string script, string workingDirectory, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        DotNetCli.SetEnvironment(start, environment);

        var shell = new ShellScript(new Process { StartInfo = start, EnableRaisingEvents = true });
        shell._process.OutputDataReceived += (_, e) => shell.Add(e.Data);
        shell._process.ErrorDataReceived += (_, e) => shell.Add(e.Data);
        shell._process.Exited += (_, _) => shell._exited.TrySetResult();
        shell._process.Start();
        shell._process.BeginOutputReadLine();
        shell._process.BeginErrorReadLine();
        return shell;
    }

    /// <summary>Waits for the first line that matches; fails with the output if the script ends first or time runs out.</summary>
    public async Task<Match> WaitForLineAsync(Regex pattern, TimeSpan timeout)
    {
        var waiter = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lines)
        {
            if (_lines.Select(l => pattern.Match(l)).FirstOrDefault(m => m.Success) is { } found)
            {
                return found;
            }

            _waiters.Add((pattern, waiter));
        }

        using var cancellation = new CancellationTokenSource(timeout);
        var first = await Task.WhenAny(waiter.Task, _exited.Task, Task.Delay(Timeout.Infinite, cancellation.Token));
        if (first == waiter.Task)
        {
            return await waiter.Task;
        }

        if (first == _exited.Task)
        {
            _process.WaitForExit(); // flushes the output readers
        }

        var reason = first == _exited.Task
            ? $"the script ended with exit code {_process.ExitCode.ToString(CultureInfo.InvariantCulture)}"
            : $"it did not appear within {timeout}";
        throw new Xunit.Sdk.XunitException($"No line matched /{pattern}/: {reason}. Output:\n{DotNetCli.Tail(Output, 12_000)}");
    }

    /// <summary>Sends a signal by name (TERM, INT) with kill(1), as a service manager or a terminal would.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _exited.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"The script did not exit within {timeout}. Output:\n{DotNetCli.Tail(Output, 12_000)}");
        }

        _process.WaitForExit(); // flushes the output readers
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lines)
        {
            _lines.Add(line);
            for (var index = _waiters.Count - 1; index >= 0; index--)
            {
                if (_waiters[index].Pattern.Match(line) is { Success: true } match)
                {
                    _waiters[index].Waiter.TrySetResult(match);
                    _waiters.RemoveAt(index);
                }
            }
        }
    }
}
