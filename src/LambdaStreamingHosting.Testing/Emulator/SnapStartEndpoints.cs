using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// SnapStart as Lambda runs it (<see cref="LambdaEmulatorOptions.SnapStart"/>): the function initialises, runs its
/// before-snapshot work and asks <c>GET /runtime/restore/next</c>; the emulator takes the "snapshot" there (it freezes
/// the environment, as Lambda snapshots the VM while that call is pending) and "restores" it when the first event
/// arrives (it thaws the environment and answers the call). From then on the function has
/// <see cref="LambdaEmulatorOptions.RestoreTimeout"/> to ask for its event: its after-restore work must end within it,
/// else the invocation fails with <c>SnapStartTimeoutException</c> and the environment is reset. A failure the function
/// reports to <c>POST /runtime/restore/error</c> fails the invocation with <c>SnapStartException</c> and resets the
/// environment too. A reset starts the function again, which takes a new snapshot (a process cannot be copied here; on
/// Lambda every new environment is restored from the one snapshot instead).
/// </summary>
internal sealed class SnapStartEndpoints(LambdaEmulatorOptions options, InvocationLog log, InvocationQueue queue, EnvironmentResets resets, CancellationToken stopping)
{
    private readonly Lock _sync = new();
    private ITimer? _restoreTimer;

    /// <summary>How many snapshots were taken (the function asked <c>/restore/next</c> and was frozen for it).</summary>
    public int Snapshots { get; private set; }

    /// <summary>How many restores there were (<c>/restore/next</c> answered).</summary>
    public int Restores { get; private set; }

    /// <summary><c>GET /runtime/restore/next</c>: snapshot now, restore for the first event.</summary>
    public async Task RestoreNextAsync(HttpContext context)
    {
        if (!options.SnapStart)
        {
            await RefuseAsync(context, "The function asked GET /runtime/restore/next, but it is not published with SnapStart (LambdaEmulatorOptions.SnapStart is false; AWS_LAMBDA_INITIALIZATION_TYPE should not be snap-start).");
            return;
        }

        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
            if (options.Environment is { } environment)
            {
                await environment.FreezeAsync(linked.Token);
            }

            lock (_sync)
            {
                Snapshots++;
            }

            // On Lambda the snapshot waits for the first invoke of a new environment; here for the first queued event.
            await queue.WaitUntilQueuedAsync().WaitAsync(linked.Token);
            if (options.Environment is { } restored)
            {
                await restored.ThawAsync(linked.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            if (!context.RequestAborted.IsCancellationRequested)
            {
                await RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status500InternalServerError, RuntimeApiReplies.Unavailable,
                    ex is OperationCanceledException ? "The emulator is stopping: exit." : $"The execution environment failed: {ex.Message}");
            }

            return;
        }

        lock (_sync)
        {
            Restores++;
            _restoreTimer?.Dispose();
            _restoreTimer = options.TimeProvider.CreateTimer(_ => RestoreTimedOut(), null, options.RestoreTimeout, Timeout.InfiniteTimeSpan);
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentLength = 0;
    }

    /// <summary>The function asked for its event (<c>/next</c>): a restore, if one is running, ended in time.</summary>
    public void NextRequested()
    {
        lock (_sync)
        {
            _restoreTimer?.Dispose();
            _restoreTimer = null;
        }
    }

    /// <summary><c>POST /runtime/restore/error</c>: the after-restore work failed; the first event fails with it.</summary>
    public async Task RestoreErrorAsync(HttpContext context)
    {
        var (errorType, errorMessage, _) = await ErrorReport.ReadAsync(context, context.RequestAborted);
        NextRequested();
        if (!options.SnapStart)
        {
            await RefuseAsync(context, "The function posted /runtime/restore/error, but it is not published with SnapStart (LambdaEmulatorOptions.SnapStart is false).");
            return;
        }

        if (queue.TryTakeQueued(out var first))
        {
            first.Finish(new InvocationFailure(EmulatorErrorTypes.SnapStartException, $"The function failed after the restore from its snapshot ({errorType}): {errorMessage}"));
        }

        await RuntimeApiReplies.AcceptedAsync(context);
        resets.Reset(EmulatorErrorTypes.SnapStartException);
    }

    private void RestoreTimedOut()
    {
        lock (_sync)
        {
            if (_restoreTimer is null)
            {
                return;
            }

            _restoreTimer.Dispose();
            _restoreTimer = null;
        }

        if (queue.TryTakeQueued(out var first))
        {
            first.Finish(new InvocationFailure(EmulatorErrorTypes.SnapStartTimeoutException,
                $"The function did not ask for its event within {options.RestoreTimeout.TotalSeconds:0.###} s of the restore from its snapshot: after-restore work must end within that limit."));
        }

        resets.Reset(EmulatorErrorTypes.SnapStartTimeoutException);
    }

    private Task RefuseAsync(HttpContext context, string message)
    {
        if (options.Strict)
        {
            log.AddViolation(message);
        }

        return RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status403Forbidden, RuntimeApiReplies.InvalidStateTransition, message);
    }
}
