using LambdaStreamingHosting.RuntimeApi;
using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// <c>HttpContext.RequestAborted</c> fires a margin before the invocation's deadline, so the app can stop cleanly
/// before Lambda cuts it off, when the Runtime API connection breaks, when the app calls <c>HttpContext.Abort()</c>
/// (the invocation then ends with an error), or when the host's shutdown timeout ran out (<see cref="Shutdown"/>). One
/// instance serves its invocation loop's invocations one after another, as on Kestrel: the token source is reset
/// (<see cref="CancellationTokenSource.TryReset"/>, which also drops the previous invocation's registrations) unless it
/// was cancelled, and one deadline timer is re-armed.
/// </summary>
internal sealed class RequestLifetimeFeature : IHttpRequestLifetimeFeature, IDisposable
{
    private static readonly LambdaError ShutdownError = new(LambdaErrorTypes.Shutdown, "The function was shut down (the host stopped, for example on SIGTERM) before the response ended.");
    private static readonly TimeSpan LongestTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly ITimer _deadlineTimer;
    private CancellationTokenSource _aborted = new();

    // The source the deadline timer cancelled or is cancelling: never reset for a later invocation.
    private CancellationTokenSource? _cancelledByDeadline;
    private DateTimeOffset _abortAt = DateTimeOffset.MaxValue;
    private ResponseBodyFeature? _body;

    public RequestLifetimeFeature(TimeProvider time)
    {
        _time = time;
        _deadlineTimer = time.CreateTimer(static state => ((RequestLifetimeFeature)state!).OnDeadlineTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        ConnectionLostCallback = ConnectionLost;
        RequestAborted = _aborted.Token;
    }

    public CancellationToken RequestAborted { get; set; }

    /// <summary>Whether the app called <see cref="Abort"/>.</summary>
    public bool AbortRequested { get; private set; }

    /// <summary>Whether <see cref="RequestAborted"/> fired because the invocation's deadline (less the margin) came.</summary>
    public bool DeadlineReached { get; private set; }

    /// <summary>Whether the invocation was aborted because the host is stopping (<see cref="Shutdown"/>).</summary>
    public bool ShutdownRequested { get; private set; }

    /// <summary><see cref="ConnectionLost"/> as a delegate, made once.</summary>
    public Action ConnectionLostCallback { get; }

    /// <summary>
    /// Readies the feature for an invocation: a fresh <see cref="RequestAborted"/> that fires <paramref name="margin"/> before
    /// <paramref name="deadline"/> (never for <see cref="DateTimeOffset.MaxValue"/>), and <see cref="Abort"/> aborting
    /// <paramref name="body"/>.
    /// </summary>
    public void Reset(DateTimeOffset deadline, TimeSpan margin, ResponseBodyFeature body)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_aborted, _cancelledByDeadline) || !_aborted.TryReset())
            {
                // Cancelled sources are left to the callbacks still running on them, not disposed under their feet.
                _aborted = new CancellationTokenSource();
            }

            _body = body;
            AbortRequested = false;
            DeadlineReached = false;
            ShutdownRequested = false;
            RequestAborted = _aborted.Token;
            _abortAt = deadline == DateTimeOffset.MaxValue ? DateTimeOffset.MaxValue : deadline - margin;
            ArmDeadlineTimer();
        }
    }

    /// <summary>The invocation is over: the deadline no longer applies and the body is let go.</summary>
    public void Release()
    {
        lock (_gate)
        {
            _abortAt = DateTimeOffset.MaxValue;
            _body = null;
            ArmDeadlineTimer();
        }
    }

    public void Abort()
    {
        if (AbortRequested)
        {
            return;
        }

        AbortRequested = true;
        _body?.Abort();
        _aborted.Cancel();
    }

    /// <summary>
    /// The host is stopping and its shutdown timeout ran out while this invocation runs: <see cref="RequestAborted"/>
    /// fires, later writes are dropped, and the invocation ends with <see cref="LambdaErrorTypes.Shutdown"/> (as <c>/error</c>
    /// before the response started, in the error trailers after). Returns whether an invocation was running. Called
    /// from the thread that stops the host.
    /// </summary>
    public bool Shutdown()
    {
        lock (_gate)
        {
            if (_body is null || ShutdownRequested)
            {
                return false;
            }

            ShutdownRequested = true;
            _body.Abort(ShutdownError);
            try
            {
                // The app's callbacks run off this thread, as for a lost connection.
                _ = _aborted.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
            }

            return true;
        }
    }

    /// <summary>
    /// The Runtime API connection broke mid-stream: <see cref="RequestAborted"/> fires, as on Kestrel when the client
    /// disconnects (callbacks run off the writing thread, so none of them can fail the app's write).
    /// </summary>
    public void ConnectionLost() => _ = _aborted.CancelAsync();

    public void Dispose()
    {
        _deadlineTimer.Dispose();
        _aborted.Dispose();
    }

    private void ArmDeadlineTimer()
    {
        if (_abortAt == DateTimeOffset.MaxValue)
        {
            _deadlineTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        var delay = _abortAt - _time.GetUtcNow();
        _deadlineTimer.Change(delay < TimeSpan.Zero ? TimeSpan.Zero : delay > LongestTimer ? LongestTimer : delay, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// The timer went off: cancels the current invocation's source if its abort time has come; a late tick for an
    /// invocation already over, or an early one, only re-arms the timer for the current invocation.
    /// </summary>
    private void OnDeadlineTimer()
    {
        CancellationTokenSource due;
        lock (_gate)
        {
            if (_abortAt == DateTimeOffset.MaxValue)
            {
                return;
            }

            if (_time.GetUtcNow() < _abortAt)
            {
                ArmDeadlineTimer();
                return;
            }

            _abortAt = DateTimeOffset.MaxValue;
            DeadlineReached = true;
            due = _cancelledByDeadline = _aborted;
        }

        try
        {
            due.Cancel();
        }
        catch (AggregateException)
        {
            // A RequestAborted callback of the app failed: it must not take down the timer thread (and the process).
        }
        catch (ObjectDisposedException)
        {
            // The loop stopped in the meantime: nobody is left to tell.
        }
    }
}
