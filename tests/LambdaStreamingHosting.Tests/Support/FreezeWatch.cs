using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>
/// The function's environment for the emulator (a <see cref="FunctionProcess"/>), telling the test when a freeze took
/// effect: from then on the process cannot write another byte until it is thawed.
/// </summary>
public sealed class FreezeWatch(FunctionProcess function) : IFunctionEnvironment
{
    private readonly List<(int Count, TaskCompletionSource Waiter)> _waiters = [];
    private int _freezes;

    /// <summary>How many freezes took effect so far.</summary>
    public int Freezes => Volatile.Read(ref _freezes);

    /// <summary>Completes when at least <paramref name="count"/> freezes took effect.</summary>
    public Task WaitForFreezesAsync(int count)
    {
        lock (_waiters)
        {
            if (_freezes >= count)
            {
                return Task.CompletedTask;
            }

            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, waiter));
            return waiter.Task;
        }
    }

    public async ValueTask FreezeAsync(CancellationToken cancellationToken)
    {
        await function.FreezeAsync(cancellationToken);
        if (!function.IsFrozen)
        {
            return;
        }

        lock (_waiters)
        {
            _freezes++;
            foreach (var (count, waiter) in _waiters.Where(w => w.Count <= _freezes).ToList())
            {
                waiter.TrySetResult();
                _waiters.Remove((count, waiter));
            }
        }
    }

    public ValueTask ThawAsync(CancellationToken cancellationToken) => function.ThawAsync(cancellationToken);

    public ValueTask NextEventRequestedAsync(CancellationToken cancellationToken) => function.NextEventRequestedAsync(cancellationToken);

    public ValueTask ResetAsync(string reason, CancellationToken cancellationToken) => function.ResetAsync(reason, cancellationToken);
}
