using System.Collections.Concurrent;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// The invocations the function was given and is not done with, by request id, for its answers to find; and how the
/// last 10,000 it was done with ended (only whether they timed out: their events and clients are let go), so that a
/// late or repeated answer gets the Runtime API's reply for it. Thread-safe.
/// </summary>
internal sealed class DeliveredInvocations
{
    private const int RememberedFinishedInvocations = 10_000;
    private readonly ConcurrentDictionary<string, EmulatedInvocation> _invocations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _finishedTimedOut = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _finishedOrder = new(); // oldest first, so memory stays bounded

    public void Add(EmulatedInvocation invocation) => _invocations[invocation.RequestId] = invocation;

    public bool TryGet(string requestId, out EmulatedInvocation invocation) => _invocations.TryGetValue(requestId, out invocation!);

    /// <summary>Whether the function was done with invocation <paramref name="requestId"/>, and if so whether it timed out.</summary>
    public bool TryGetFinished(string requestId, out bool timedOut) => _finishedTimedOut.TryGetValue(requestId, out timedOut);

    /// <summary>An invocation the function holds and has not answered (it may not ask for another), if there is one.</summary>
    public EmulatedInvocation? FirstUnanswered() =>
        _invocations.Values.FirstOrDefault(i => i.State is InvocationState.Delivered or InvocationState.Answering);

    /// <summary>The function is done with an invocation: forget its event and client, and remember only how it ended.</summary>
    public void Forget(EmulatedInvocation released)
    {
        _finishedTimedOut[released.RequestId] = released.TimedOut;
        _finishedOrder.Enqueue(released.RequestId);
        while (_finishedOrder.Count > RememberedFinishedInvocations && _finishedOrder.TryDequeue(out var oldest))
        {
            _finishedTimedOut.TryRemove(oldest, out _);
        }

        _invocations.TryRemove(released.RequestId, out _);
    }

    /// <summary>Adds a line the function wrote to the log of each invocation it is running that keeps one.</summary>
    public void AddFunctionOutput(string line)
    {
        foreach (var invocation in _invocations.Values)
        {
            if (invocation.Log is { } log && invocation.State is InvocationState.Delivered or InvocationState.Answering)
            {
                log.Add(line);
            }
        }
    }

    /// <summary>Stops reading every answer in progress (the emulator stops).</summary>
    public void CancelAnswers()
    {
        foreach (var invocation in _invocations.Values)
        {
            invocation.AnswerCancellation.Cancel();
        }
    }
}
