namespace LambdaStreamingHosting.Testing;

/// <summary>
/// Resets of the function's execution environment (a cold start next time) after a timeout, a crash or a failed
/// start, run one after another in the background; <c>/next</c> waits until the last one asked for is done.
/// </summary>
internal sealed class EnvironmentResets(IFunctionEnvironment? environment, CancellationToken stopping)
{
    private readonly Lock _sync = new();
    private Task _reset = Task.CompletedTask;
    private bool _coldStart = true; // the next invocation is the environment's first

    /// <summary>Whether the invocation being handed over is the first since the environment started or was reset (asked once per invocation).</summary>
    public bool TakeColdStart()
    {
        lock (_sync)
        {
            var cold = _coldStart;
            _coldStart = false;
            return cold;
        }
    }

    /// <summary>Completes when the resets asked for so far are done.</summary>
    public Task WaitAsync(CancellationToken cancellationToken) => _reset.WaitAsync(cancellationToken);

    /// <summary>Resets the environment, after any reset still running; nothing when there is no environment or the emulator stops.</summary>
    public void Reset(string reason)
    {
        if (environment is null || stopping.IsCancellationRequested)
        {
            return;
        }

        lock (_sync)
        {
            _coldStart = true;
            var previous = _reset;
            _reset = Task.Run(async () =>
            {
                await previous.ConfigureAwait(false);
                try
                {
                    await environment.ResetAsync(reason, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                }
            });
        }
    }
}
