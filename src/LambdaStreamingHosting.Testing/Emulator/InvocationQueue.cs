using System.Threading.Channels;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// The invocations the front doors made, waiting for the function to ask for them, and the function's polls: at most
/// <see cref="LambdaEmulatorOptions.MaxConcurrency"/> invocations are held or asked for at a time. While the function
/// waits for an event it is frozen (one invocation at a time only: Lambda Managed Instances never freeze), and thawed
/// before the event is handed over. An invocation handed over is recorded in <see cref="DeliveredInvocations"/> until
/// the function is done with it.
/// </summary>
internal sealed class InvocationQueue
{
    private readonly LambdaEmulatorOptions _options;
    private readonly InvocationDeadlines _deadlines;
    private readonly DeliveredInvocations _delivered;
    private readonly CancellationToken _stopping;
    // Synchronous continuations: a waiting /next gets its event on the thread that queued it, without a thread-pool hop.
    // Never write to the queue while holding a lock.
    private readonly Channel<EmulatedInvocation> _queue = Channel.CreateUnbounded<EmulatedInvocation>(new UnboundedChannelOptions { AllowSynchronousContinuations = true });
    private readonly Action<EmulatedInvocation> _onReleased; // cached: none allocated per invocation
    private readonly Lock _sync = new();
    private int _busy;     // invocations delivered and not released
    private int _waiting;  // /next requests waiting for an event
    private TaskCompletionSource _queued = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public InvocationQueue(LambdaEmulatorOptions options, InvocationDeadlines deadlines, DeliveredInvocations delivered, CancellationToken stopping)
    {
        _options = options;
        _deadlines = deadlines;
        _delivered = delivered;
        _stopping = stopping;
        _onReleased = OnReleased;
    }

    private IFunctionEnvironment? Environment => _options.Environment;

    /// <summary>Queues an invocation for the function and starts its wait-for-pickup deadline.</summary>
    public void Enqueue(EmulatedInvocation invocation)
    {
        _deadlines.StartPickup(invocation);
        _queue.Writer.TryWrite(invocation);
        lock (_sync)
        {
            _queued.TrySetResult();
        }
    }

    /// <summary>Completes when at least one event waits in the queue (for tests that must order a request before /next).</summary>
    public Task WaitUntilQueuedAsync()
    {
        lock (_sync)
        {
            if (_queue.Reader.Count > 0)
            {
                return Task.CompletedTask;
            }

            if (_queued.Task.IsCompleted)
            {
                _queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            return _queued.Task;
        }
    }

    /// <summary>
    /// Lets a <c>/next</c> wait for an event; false when <see cref="LambdaEmulatorOptions.MaxConcurrency"/> invocations
    /// are held or asked for already. A poll let in ends with <see cref="TakeNextAsync"/> or <see cref="EndPoll"/>.
    /// </summary>
    public bool TryStartPoll()
    {
        lock (_sync)
        {
            if (_busy + _waiting >= _options.MaxConcurrency)
            {
                return false;
            }

            _waiting++;
            return true;
        }
    }

    /// <summary>A poll ended without an invocation (the poller left, the emulator stopped, the environment failed).</summary>
    public void EndPoll()
    {
        lock (_sync)
        {
            _waiting--;
        }
    }

    /// <summary>
    /// Takes the next live invocation for a poll let in by <see cref="TryStartPoll"/>, freezing the environment while
    /// there is none, and records it as delivered.
    /// </summary>
    public async Task<EmulatedInvocation> TakeNextAsync(CancellationToken requestAborted)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, _stopping);
        var frozen = false;
        while (true)
        {
            if (!_queue.Reader.TryRead(out var invocation))
            {
                if (!frozen && Environment is { } environment && _options.MaxConcurrency == 1)
                {
                    await environment.FreezeAsync(_stopping);
                    frozen = true;
                }
                else if (!frozen && Environment is { } unfrozen)
                {
                    await unfrozen.NextEventRequestedAsync(_stopping);
                }

                invocation = await _queue.Reader.ReadAsync(linked.Token);
            }
            else if (!frozen && Environment is { } busy)
            {
                await busy.NextEventRequestedAsync(_stopping);
            }

            if (frozen)
            {
                try
                {
                    await Environment!.ThawAsync(_stopping);
                }
                catch
                {
                    _queue.Writer.TryWrite(invocation); // not delivered: keep it for the next poller
                    throw;
                }

                frozen = false;
                invocation.Thawed = true;
            }

            var pollerGone = false;
            lock (invocation.Sync)
            {
                if (invocation.State != InvocationState.Queued)
                {
                    continue; // timed out while queued
                }

                pollerGone = requestAborted.IsCancellationRequested;
                if (!pollerGone)
                {
                    invocation.State = InvocationState.Delivered;
                    invocation.InvocationId = Guid.NewGuid().ToString("N"); // a nonce per delivery
                }
            }

            if (pollerGone)
            {
                _queue.Writer.TryWrite(invocation); // keep the event for the next poller
                requestAborted.ThrowIfCancellationRequested();
            }

            lock (_sync)
            {
                _waiting--;
                _busy++;
            }

            invocation.OnReleased = _onReleased;
            _delivered.Add(invocation);
            return invocation;
        }
    }

    /// <summary>Takes the first queued invocation, if there is one (a failed start fails it).</summary>
    public bool TryTakeQueued(out EmulatedInvocation invocation) => _queue.Reader.TryRead(out invocation!);

    /// <summary>Takes no more invocations; those still queued fail.</summary>
    public void Stop()
    {
        _queue.Writer.TryComplete();
        while (_queue.Reader.TryRead(out var queued))
        {
            queued.Finish(new InvocationFailure(EmulatorErrorTypes.Stopped, "The emulator stopped before the function asked for the event."));
        }
    }

    /// <summary>The function is done with an invocation: its place is free.</summary>
    private void OnReleased(EmulatedInvocation released)
    {
        lock (_sync)
        {
            _busy--;
        }

        _delivered.Forget(released);
    }
}
