using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// <c>HttpContext.RequestAborted</c> fires a margin before the invocation's deadline, so the app can stop cleanly
/// before Lambda cuts it off, when the Runtime API connection breaks, or when the app calls <c>HttpContext.Abort()</c>
/// (the invocation then ends with an error).
/// </summary>
internal sealed class RequestLifetimeFeature : IHttpRequestLifetimeFeature, IDisposable
{
    private static readonly TimeSpan LongestTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);
    private readonly CancellationTokenSource _aborted;
    private readonly Action _onAbort;

    public RequestLifetimeFeature(DateTimeOffset deadline, TimeSpan margin, TimeProvider time, Action onAbort)
    {
        _onAbort = onAbort;
        var delay = deadline == DateTimeOffset.MaxValue ? Timeout.InfiniteTimeSpan : deadline - margin - time.GetUtcNow();
        _aborted = delay == Timeout.InfiniteTimeSpan || delay > LongestTimer
            ? new CancellationTokenSource()
            : new CancellationTokenSource(delay < TimeSpan.Zero ? TimeSpan.Zero : delay, time);
        RequestAborted = _aborted.Token;
    }

    public CancellationToken RequestAborted { get; set; }

    /// <summary>Whether the app called <see cref="Abort"/>.</summary>
    public bool AbortRequested { get; private set; }

    public void Abort()
    {
        if (AbortRequested)
        {
            return;
        }

        AbortRequested = true;
        _onAbort();
        _aborted.Cancel();
    }

    /// <summary>
    /// The Runtime API connection broke mid-stream: <see cref="RequestAborted"/> fires, as on Kestrel when the client
    /// disconnects (callbacks run off the writing thread, so none of them can fail the app's write).
    /// </summary>
    public void ConnectionLost() => _ = _aborted.CancelAsync();

    public void Dispose() => _aborted.Dispose();
}
