using System.Diagnostics;
using System.Globalization;

namespace LambdaStreamingHosting.Tool.Tests;

/// <summary>The real <c>lambda-streaming</c> tool, started as a process, with its output collected line by line.</summary>
internal sealed class ToolProcess : IDisposable
{
    private readonly Process _process;

    private ToolProcess(Process process) => _process = process;

    public OutputLines Output { get; } = new();

    public OutputLines Errors { get; } = new();

    public int Id => _process.Id;

    public static ToolProcess Start(params string[] arguments) => StartIn(AppContext.BaseDirectory, arguments);

    /// <summary>Starts the tool with <paramref name="workingDirectory"/> as its current directory.</summary>
    public static ToolProcess StartIn(string workingDirectory, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        startInfo.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "LambdaStreamingHosting.Tool.dll"));
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var tool = new ToolProcess(new Process { StartInfo = startInfo });
        tool._process.OutputDataReceived += (_, line) => Add(tool.Output, line.Data);
        tool._process.ErrorDataReceived += (_, line) => Add(tool.Errors, line.Data);
        tool._process.Start();
        tool._process.BeginOutputReadLine();
        tool._process.BeginErrorReadLine();
        return tool;
    }

    /// <summary>Sends a signal by name (INT, TERM) with kill(1), as a terminal or a service manager would.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The tool did not exit within {timeout}. Output:{Environment.NewLine}{Describe()}");
        }

        return _process.ExitCode;
    }

    public string Describe() =>
        string.Join(Environment.NewLine, Output.Lines) + Environment.NewLine + "stderr:" + Environment.NewLine + string.Join(Environment.NewLine, Errors.Lines);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private static void Add(OutputLines lines, string? line)
    {
        if (line is not null)
        {
            lines.Add(line);
        }
    }
}
