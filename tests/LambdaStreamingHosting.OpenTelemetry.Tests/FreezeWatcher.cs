using System.Threading.Channels;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.OpenTelemetry.Tests;

/// <summary>
/// The emulator's execution environment: a <see cref="FunctionProcess"/>, really frozen with <c>SIGSTOP</c> when it asks
/// for its next event, and at that moment (once every thread is seen stopped) a snapshot of what the OTLP receiver
/// holds. Whatever the function did not export before it asked for the event is not in the snapshot.
/// </summary>
public sealed class FreezeWatcher(FunctionProcess function, OtlpReceiver receiver) : IFunctionEnvironment
{
    private readonly Channel<ReceivedTelemetry> _freezes = Channel.CreateUnbounded<ReceivedTelemetry>();

    public ValueTask NextEventRequestedAsync(CancellationToken cancellationToken) => function.NextEventRequestedAsync(cancellationToken);

    public async ValueTask FreezeAsync(CancellationToken cancellationToken)
    {
        await function.FreezeAsync(cancellationToken);
        if (!function.IsFrozen)
        {
            throw new InvalidOperationException("The function process was not frozen.");
        }

        _freezes.Writer.TryWrite(receiver.Snapshot());
    }

    public ValueTask ThawAsync(CancellationToken cancellationToken) => function.ThawAsync(cancellationToken);

    public ValueTask ResetAsync(string reason, CancellationToken cancellationToken) => function.ResetAsync(reason, cancellationToken);

    /// <summary>What the receiver held when the function was frozen next (freezes are taken in order: init, then after each invocation).</summary>
    public async Task<ReceivedTelemetry> NextFreezeAsync(TimeSpan timeout) => await _freezes.Reader.ReadAsync().AsTask().WaitAsync(timeout);
}
