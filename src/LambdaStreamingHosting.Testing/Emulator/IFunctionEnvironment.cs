namespace LambdaStreamingHosting.Testing;

/// <summary>
/// The execution environment the emulator runs a function in. The emulator calls it at the moments Lambda acts on a
/// real environment: it freezes the function while it waits for work, thaws it when an event arrives, and resets it
/// (kill and start again: a cold start) after a timeout or a crash. An in-process function (for example the one
/// <c>LambdaApplicationFactory</c> hosts) cannot be frozen and uses the default, which does nothing.
/// </summary>
public interface IFunctionEnvironment
{
    /// <summary>
    /// Called when the function asks for its next event (<c>/next</c>) and is not frozen for it: an event is already
    /// waiting, or several invocations run at once (Lambda Managed Instances never freeze). Otherwise
    /// <see cref="FreezeAsync"/> marks the same moment. Either way, from the first call on the function has initialised.
    /// </summary>
    /// <param name="cancellationToken">Signalled when the emulator stops.</param>
    ValueTask NextEventRequestedAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>
    /// Called when the function is idle (it asked for the next event and none is pending), and, with
    /// <see cref="LambdaEmulatorOptions.SnapStart"/>, when it asks <c>/runtime/restore/next</c>: the snapshot.
    /// </summary>
    /// <param name="cancellationToken">Signalled when the emulator stops.</param>
    ValueTask FreezeAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Called before an event is handed to a frozen function, and to restore it from a SnapStart snapshot.</summary>
    /// <param name="cancellationToken">Signalled when the emulator stops.</param>
    ValueTask ThawAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Called after an invocation timed out or the function failed: the environment must start from cold.</summary>
    /// <param name="reason">Why the environment is reset, e.g. <c>Sandbox.Timedout</c>.</param>
    /// <param name="cancellationToken">Signalled when the emulator stops.</param>
    ValueTask ResetAsync(string reason, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
