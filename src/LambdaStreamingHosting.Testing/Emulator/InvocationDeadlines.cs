namespace LambdaStreamingHosting.Testing;

/// <summary>
/// Lambda's time limits: a queued event must be asked for within <see cref="LambdaEmulatorOptions.InitTimeout"/> +
/// <see cref="LambdaEmulatorOptions.Timeout"/>, and answered within <see cref="LambdaEmulatorOptions.Timeout"/> of
/// being handed over. When time runs out the invocation fails with <c>Sandbox.Timedout</c> (an answer being read is
/// stopped first; its request fails the invocation) and the environment is reset.
/// </summary>
internal sealed class InvocationDeadlines
{
    private readonly LambdaEmulatorOptions _options;
    private readonly EnvironmentResets _resets;
    private readonly Action<EmulatedInvocation> _onExpired; // cached: none allocated per invocation

    public InvocationDeadlines(LambdaEmulatorOptions options, EnvironmentResets resets)
    {
        _options = options;
        _resets = resets;
        _onExpired = OnExpired;
    }

    /// <summary>Starts the time a queued invocation may wait for the function to ask for it.</summary>
    public void StartPickup(EmulatedInvocation invocation) => invocation.ArmTimer(_options.InitTimeout + _options.Timeout, _onExpired);

    /// <summary>Starts the function's time on an invocation it was just given, and sets its <see cref="EmulatedInvocation.Deadline"/>.</summary>
    public void StartAnswer(EmulatedInvocation invocation)
    {
        invocation.Deadline = _options.TimeProvider.GetUtcNow() + _options.Timeout;
        invocation.ArmTimer(_options.Timeout, _onExpired);
    }

    /// <summary>The failure of an invocation the function got and did not answer in time.</summary>
    /// <param name="whileAnswering">Whether the time ran out while its answer was being read.</param>
    public InvocationFailure TimedOut(bool whileAnswering = false) => new(EmulatorErrorTypes.Timeout,
        $"Task timed out after {_options.Timeout.TotalSeconds:0.###} seconds{(whileAnswering ? " (while the function was answering)" : "")}.");

    private void OnExpired(EmulatedInvocation invocation)
    {
        bool delivered;
        lock (invocation.Sync)
        {
            if (invocation.State == InvocationState.Finished)
            {
                return;
            }

            invocation.TimedOut = true;
            delivered = invocation.State != InvocationState.Queued;
            if (invocation.State == InvocationState.Answering)
            {
                invocation.AnswerCancellation.Cancel(); // the answering request finishes it
            }
        }

        if (!invocation.IsFinished && !invocation.AnswerCancellation.IsCancellationRequested)
        {
            invocation.Finish(delivered
                ? TimedOut()
                : new InvocationFailure(EmulatorErrorTypes.Timeout, $"The function did not ask for the event (GET /next) within {(_options.InitTimeout + _options.Timeout).TotalSeconds:0.###} seconds."));
        }

        _resets.Reset(EmulatorErrorTypes.Timeout);
    }
}
