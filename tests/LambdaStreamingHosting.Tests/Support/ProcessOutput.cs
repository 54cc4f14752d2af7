namespace LambdaStreamingHosting.Tests.Support;

/// <summary>The lines a function process wrote, standard output and standard error apart; a test can wait for a line.</summary>
public sealed class ProcessOutput
{
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = [];

    public IReadOnlyList<string> StandardOutput
    {
        get
        {
            lock (_waiters)
            {
                return [.. _stdout];
            }
        }
    }

    public void AddStandardOutput(string line)
    {
        lock (_waiters)
        {
            _stdout.Add(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line))
                {
                    _waiters[i].Found.TrySetResult(line);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    public void AddStandardError(string line)
    {
        lock (_waiters)
        {
            _stderr.Add(line);
        }
    }

    /// <summary>Completes with the first standard output line (written so far or later) that matches.</summary>
    public Task<string> WaitForLineAsync(Func<string, bool> match)
    {
        lock (_waiters)
        {
            if (_stdout.FirstOrDefault(match) is { } line)
            {
                return Task.FromResult(line);
            }

            var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, found));
            return found.Task;
        }
    }

    public override string ToString()
    {
        lock (_waiters)
        {
            return $"stdout:\n{string.Join('\n', _stdout)}\nstderr:\n{string.Join('\n', _stderr)}";
        }
    }
}
