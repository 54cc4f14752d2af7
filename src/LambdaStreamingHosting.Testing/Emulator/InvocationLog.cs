using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Testing;

/// <summary>The emulator's record of finished invocations and protocol violations; thread-safe.</summary>
internal sealed partial class InvocationLog(TimeProvider timeProvider, ILogger? logger)
{
    private readonly Lock _sync = new();
    private readonly List<LambdaInvocationRecord> _records = [];
    private readonly List<string> _violations = [];
    private readonly List<(int Count, TaskCompletionSource<IReadOnlyList<LambdaInvocationRecord>> Waiter)> _waiters = [];

    public event EventHandler<LambdaInvocationRecord>? Completed;

    public TimeProvider TimeProvider => timeProvider;

    /// <summary>The live feed of invocation events for the timeline page; <see langword="null"/> when no page is served.</summary>
    public InvocationFeed? Feed { get; init; }

    /// <summary>The sender of <see cref="Completed"/> events (the emulator).</summary>
    public object? Owner { get; set; }

    public void Add(LambdaInvocationRecord record)
    {
        List<TaskCompletionSource<IReadOnlyList<LambdaInvocationRecord>>>? ready = null;
        IReadOnlyList<LambdaInvocationRecord> snapshot = [];
        lock (_sync)
        {
            _records.Add(record);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Count <= _records.Count)
                {
                    (ready ??= []).Add(_waiters[i].Waiter);
                    _waiters.RemoveAt(i);
                }
            }

            // A copy only for waiters: the log grows with every request, and copying it each time costs O(n).
            if (ready is not null)
            {
                snapshot = [.. _records];
            }
        }

        if (logger is not null && logger.IsEnabled(LogLevel.Information))
        {
            LogInvocation(logger, record.ToString());
        }

        Completed?.Invoke(Owner, record);
        foreach (var waiter in ready ?? [])
        {
            waiter.TrySetResult(snapshot);
        }
    }

    public void AddViolation(string message)
    {
        lock (_sync)
        {
            _violations.Add(message);
        }

        if (logger is not null)
        {
            LogViolation(logger, message);
        }
    }

    [LoggerMessage(1, LogLevel.Information, "{Invocation}")]
    private static partial void LogInvocation(ILogger logger, string invocation);

    [LoggerMessage(2, LogLevel.Warning, "Protocol violation: {Violation}")]
    private static partial void LogViolation(ILogger logger, string violation);

    public IReadOnlyList<LambdaInvocationRecord> Snapshot()
    {
        lock (_sync)
        {
            return [.. _records];
        }
    }

    public IReadOnlyList<string> Violations()
    {
        lock (_sync)
        {
            return [.. _violations];
        }
    }

    public async Task<IReadOnlyList<LambdaInvocationRecord>> WaitForCountAsync(int count, TimeSpan timeout)
    {
        var waiter = new TaskCompletionSource<IReadOnlyList<LambdaInvocationRecord>>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_sync)
        {
            if (_records.Count >= count)
            {
                return [.. _records];
            }

            _waiters.Add((count, waiter));
        }

        try
        {
            return await waiter.Task.WaitAsync(timeout, timeProvider);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Waited {timeout} for {count} invocation(s) to be logged; {Snapshot().Count} were.");
        }
    }
}
