namespace LambdaStreamingHosting.Lifecycle;

/// <summary>Calls the registered <see cref="ILambdaLifecycleObserver"/>s one after another, in registration order.</summary>
internal sealed class LifecycleNotifier
{
    private readonly ILambdaLifecycleObserver[] _observers;

    public LifecycleNotifier(IEnumerable<ILambdaLifecycleObserver> observers) => _observers = [.. observers];

    public async ValueTask InitAsync(CancellationToken cancellationToken)
    {
        foreach (var observer in _observers)
        {
            await observer.OnInitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask ThawAsync(TimeSpan idleTime, CancellationToken cancellationToken)
    {
        foreach (var observer in _observers)
        {
            await observer.OnThawAsync(idleTime, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask FreezingAsync(CancellationToken cancellationToken)
    {
        foreach (var observer in _observers)
        {
            await observer.OnFreezingAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask BeforeSnapshotAsync(CancellationToken cancellationToken)
    {
        foreach (var observer in _observers)
        {
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
