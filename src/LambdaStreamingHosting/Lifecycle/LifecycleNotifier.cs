using System.Runtime.CompilerServices;
using LambdaStreamingHosting.Server;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LambdaStreamingHosting.Lifecycle;

/// <summary>
/// Calls the registered <see cref="ILambdaLifecycleObserver"/>s one after another, in registration order (the
/// before-snapshot hooks in the reverse order, as Lambda's runtime hooks run). A failure in
/// an init or SnapStart hook fails the phase; a failure between invocations (thaw, freezing) is caught and logged
/// here, the one place that does, and the observers after it still run, so one pool's trouble cannot cost another
/// observer its moment (the telemetry flush before the freeze, say). An observer that gives up because the host is
/// stopping (cancelled through its token) ends the round: the observers after it are skipped.
/// </summary>
internal sealed class LifecycleNotifier
{
    private readonly ILambdaLifecycleObserver[] _observers;
    private readonly ILogger _logger;

    public LifecycleNotifier(IEnumerable<ILambdaLifecycleObserver> observers, ILogger? logger = null)
    {
        _observers = [.. observers];
        _logger = logger ?? NullLogger.Instance;
    }

    public async ValueTask InitAsync(CancellationToken cancellationToken)
    {
        foreach (var observer in _observers)
        {
            await observer.OnInitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ThawAsync(TimeSpan idleTime, CancellationToken cancellationToken)
    {
        foreach (var observer in _observers)
        {
            try
            {
                await observer.OnThawAsync(idleTime, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return; // the host is stopping
            }
#pragma warning disable CA1031 // An observer must not take the function down between invocations.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.ObserverFailed(_logger, nameof(ILambdaLifecycleObserver.OnThawAsync), ex);
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask FreezingAsync(CancellationToken cancellationToken)
    {
        foreach (var observer in _observers)
        {
            try
            {
                await observer.OnFreezingAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return; // the host is stopping
            }
#pragma warning disable CA1031 // An observer must not take the function down between invocations.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.ObserverFailed(_logger, nameof(ILambdaLifecycleObserver.OnFreezingAsync), ex);
            }
        }
    }

    /// <summary>
    /// The before-snapshot hooks, in the reverse order of registration (as Lambda's own runtime hooks run): what was
    /// registered last, and may depend on what was registered before it, is put away first.
    /// </summary>
    public async ValueTask BeforeSnapshotAsync(CancellationToken cancellationToken)
    {
        for (var i = _observers.Length - 1; i >= 0; i--)
        {
            var observer = _observers[i];
            await observer.OnBeforeSnapshotAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask AfterRestoreAsync(CancellationToken cancellationToken)
    {
        foreach (var observer in _observers)
        {
            await observer.OnAfterRestoreAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
