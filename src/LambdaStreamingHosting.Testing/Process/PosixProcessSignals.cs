using System.Globalization;
using System.Runtime.InteropServices;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// Stops and continues processes with <c>SIGSTOP</c>/<c>SIGCONT</c> (the faithful local stand-in for Lambda's freeze) and
/// reads their scheduler state from <c>/proc</c> so a freeze can be confirmed rather than assumed.
/// </summary>
internal static partial class PosixProcessSignals
{
    // Signal numbers differ between Linux and the BSDs (macOS).
    private static int SigStop => OperatingSystem.IsLinux() ? 19 : 17;

    private static int SigCont => OperatingSystem.IsLinux() ? 18 : 19;

    private const int SigTerm = 15; // the same on Linux and macOS

    private const int NoSuchProcess = 3; // ESRCH on Linux and macOS

    /// <summary>Whether the platform can freeze a process (Linux or macOS).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS();

    /// <summary>Sends <c>SIGSTOP</c>. Returns <see langword="false"/> when the process no longer exists.</summary>
    public static bool Stop(int pid) => Send(pid, SigStop);

    /// <summary>Sends <c>SIGCONT</c>. Returns <see langword="false"/> when the process no longer exists.</summary>
    public static bool Continue(int pid) => Send(pid, SigCont);

    /// <summary>Sends <c>SIGTERM</c>. Returns <see langword="false"/> when the process no longer exists.</summary>
    public static bool Terminate(int pid) => Send(pid, SigTerm);

    /// <summary>
    /// Whether every thread of the process is stopped (state <c>T</c> or <c>t</c>, or already dead), read from
    /// <c>/proc/&lt;pid&gt;/task/*/stat</c>. <see langword="null"/> when the platform has no <c>/proc</c> or the process is gone.
    /// </summary>
    public static bool? IsStopped(int pid)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        string[] threads;
        try
        {
            threads = Directory.GetDirectories($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/task");
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        foreach (var thread in threads)
        {
            var state = ReadState(Path.Combine(thread, "stat"));
            if (state is not ('T' or 't' or 'Z' or 'X' or null))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The process ids of every descendant of <paramref name="pid"/> (children first, then their children), read from
    /// <c>/proc</c>. Empty where there is no <c>/proc</c>.
    /// </summary>
    public static List<int> GetDescendants(int pid)
    {
        var descendants = new List<int>();
        if (!OperatingSystem.IsLinux())
        {
            return descendants;
        }

        var parents = new Dictionary<int, int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var candidate)
                && ReadParent(Path.Combine(directory, "stat")) is { } parent)
            {
                parents[candidate] = parent;
            }
        }

        var frontier = new Queue<int>();
        frontier.Enqueue(pid);
        while (frontier.TryDequeue(out var current))
        {
            foreach (var (child, parent) in parents)
            {
                if (parent == current)
                {
                    descendants.Add(child);
                    frontier.Enqueue(child);
                }
            }
        }

        return descendants;
    }

    private static bool Send(int pid, int signal)
    {
        if (Kill(pid, signal) == 0)
        {
            return true;
        }

        var error = Marshal.GetLastPInvokeError();
        if (error == NoSuchProcess)
        {
            return false;
        }

        throw new InvalidOperationException(
            $"kill({pid.ToString(CultureInfo.InvariantCulture)}, {signal.ToString(CultureInfo.InvariantCulture)}) failed: {Marshal.GetPInvokeErrorMessage(error)}.");
    }

    // /proc/<pid>/stat is "pid (comm) S ppid ...", and comm may itself contain spaces and parentheses: parse after the last ')'.
    private static char? ReadState(string statPath) => ReadFieldsAfterCommand(statPath) is { Length: > 0 } fields ? fields[0] : null;

    private static int? ReadParent(string statPath)
    {
        var fields = ReadFieldsAfterCommand(statPath);
        if (fields is null)
        {
            return null;
        }

        var parts = fields.Split(' ', 3);
        return parts.Length >= 2 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent) ? parent : null;
    }

    private static string? ReadFieldsAfterCommand(string statPath)
    {
        string stat;
        try
        {
            stat = File.ReadAllText(statPath);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null; // the process or thread ended while we looked
        }

        var end = stat.LastIndexOf(')');
        return end < 0 || end + 2 > stat.Length ? null : stat[(end + 2)..];
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
