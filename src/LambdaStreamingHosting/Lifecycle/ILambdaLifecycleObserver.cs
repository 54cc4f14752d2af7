namespace LambdaStreamingHosting.Lifecycle;

/// <summary>
/// Receives the moments of the Lambda execution environment's life that pools and caches care about. Register
/// implementations as singletons (<c>services.AddSingleton&lt;ILambdaLifecycleObserver, MyObserver&gt;()</c>); every
/// method has a default that does nothing, so implement only what you need. Observers run one after another, in
/// registration order (<see cref="OnBeforeSnapshotAsync"/> in the reverse order): the init and SnapStart hooks while the
/// server starts, <see cref="OnThawAsync"/> and <see cref="OnFreezingAsync"/> on the invocation loop between
/// invocations, so keep them short. An exception from <see cref="OnThawAsync"/> or <see cref="OnFreezingAsync"/> is
/// logged and the observers after it still run.
/// </summary>
public interface ILambdaLifecycleObserver
{
    /// <summary>
    /// Runs once during the init phase, when the host starts the server, before any warm-up request and before the first
    /// invocation is requested: the place to open connections so that the first request pays no connect cost. An
    /// exception fails the init phase.
    /// </summary>
    /// <param name="cancellationToken">Signalled when the host stops.</param>
    ValueTask OnInitAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>
    /// Runs before an invocation's request enters the app, when the previous invocation ended
    /// <paramref name="idleTime"/> ago. While idle the process may have been frozen for all of that time: idle
    /// connections may have been cut without the process noticing. Not called for the first invocation, nor when
    /// several invocations run at once (Lambda Managed Instances never freeze).
    /// </summary>
    /// <param name="idleTime">Time since the previous invocation's response ended.</param>
    /// <param name="cancellationToken">
    /// Signalled when the host stops (the invocation's own <c>RequestAborted</c> does not exist yet: the request has not
    /// entered the app).
    /// </param>
    ValueTask OnThawAsync(TimeSpan idleTime, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>
    /// Runs after an invocation's response has ended and its request scope was disposed, just before the next
    /// invocation is requested (after which Lambda may freeze the process). Not called when several invocations run
    /// at once.
    /// </summary>
    /// <param name="cancellationToken">Signalled when the host stops.</param>
    ValueTask OnFreezingAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>
    /// Runs before Lambda SnapStart takes the snapshot (<c>AWS_LAMBDA_INITIALIZATION_TYPE=snap-start</c>), after the
    /// warm-up requests, in the reverse order of registration (as Lambda's own runtime hooks). An exception fails the init
    /// phase.
    /// </summary>
    /// <param name="cancellationToken">Signalled when the host stops.</param>
    ValueTask OnBeforeSnapshotAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>
    /// Runs after an environment was restored from a SnapStart snapshot, before its first invocation is requested. An
    /// exception fails the restore.
    /// </summary>
    /// <param name="cancellationToken">Signalled when the host stops.</param>
    ValueTask OnAfterRestoreAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
