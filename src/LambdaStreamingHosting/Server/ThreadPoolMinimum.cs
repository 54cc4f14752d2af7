using System.Globalization;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// Keeps invocation loops able to reach <c>/next</c> when app code blocks thread-pool threads (synchronous I/O,
/// <c>Thread.Sleep</c>, sync-over-async). Every loop continues on the thread pool once its <c>/next</c> reply arrives;
/// the pool starts new threads at once only up to its minimum (the processor count by default), and after that about
/// one every half second. With several loops (Lambda Managed Instances), handlers blocking a few threads would leave an
/// idle loop's reply waiting for a thread, and Lambda counts an event no loop takes in time as <c>Runtime.Unavailable</c>.
/// So with N loops the minimum is raised to N plus the processor count (as AWS's .NET runtime client does), or to
/// <c>AWS_LAMBDA_DOTNET_MIN_THREADS</c> when set (<c>0</c> leaves the pool alone). It is only ever raised.
/// </summary>
internal static class ThreadPoolMinimum
{
    /// <summary>The environment variable that overrides the minimum (AWS's .NET runtime client reads the same one).</summary>
    public const string Variable = "AWS_LAMBDA_DOTNET_MIN_THREADS";

    /// <summary>Reads <see cref="Variable"/>: a count of 0 or more, or <see langword="null"/> when unset or not a count.</summary>
    public static int? Parse(string? value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var threads) ? threads : null;

    /// <summary>The minimum for <paramref name="loops"/> loops: the configured one, else loops + processors with several loops, else none.</summary>
    public static int? For(int loops, int? configured, int processorCount) =>
        configured is { } threads ? (threads > 0 ? threads : null) : loops > 1 ? loops + processorCount : null;

    /// <summary>Raises the pool's minimum worker (and I/O completion) threads to <paramref name="threads"/>; false when it already was as high.</summary>
    public static bool Raise(int threads)
    {
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        if (workers >= threads)
        {
            return false;
        }

        return ThreadPool.SetMinThreads(threads, Math.Max(completionPorts, threads));
    }
}
