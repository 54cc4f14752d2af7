using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Testing;

/// <summary>Where an invocation is in its life.</summary>
internal enum InvocationState
{
    /// <summary>Waiting for the function to ask for it.</summary>
    Queued,

    /// <summary>Given to the function by <c>/next</c>; no answer yet.</summary>
    Delivered,

    /// <summary>The function is posting its answer.</summary>
    Answering,

    /// <summary>Done; the log entry is written.</summary>
    Finished,
}

/// <summary>Why an invocation failed, and what the client gets when its response has not started.</summary>
/// <param name="ErrorType">The error type logged, e.g. <c>Sandbox.Timedout</c>.</param>
/// <param name="Message">Details for the log and the <c>x-lambda-emulator-error</c> header.</param>
/// <param name="ClientStatusCode">The status the client gets when its response has not started (usually 502).</param>
internal sealed record InvocationFailure(string ErrorType, string Message, int ClientStatusCode = StatusCodes.Status502BadGateway)
{
    /// <summary>The error document the function reported (<c>/error</c>'s body, or the decoded error trailer), when it sent one.</summary>
    public byte[]? ErrorDocument { get; init; }
}

/// <summary>
/// One client request on its way through the function: the event, the client's <see cref="HttpContext"/> (which the
/// answering side writes to), timing and the facts the log entry is made of. State changes under <see cref="Sync"/>.
/// </summary>
internal sealed class EmulatedInvocation
{
    private readonly TaskCompletionSource<InvocationFailure?> _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly InvocationLog _log;
    private readonly long _startTimestamp;
    private readonly List<string> _violations = [];
    private readonly bool _strict;
    private ITimer? _deadlineTimer;
    private long _deadlineTimestamp;
    private TimeSpan _deadlineDueIn;
    private Action<EmulatedInvocation>? _onExpired;
    private long _responseBytes;
    private long _reportedBytes; // body bytes already reported to the feed as sent
    private int _chunksSent;

    public EmulatedInvocation(string requestId, FrontDoor door, HttpContext client, byte[] eventBytes, InvocationLog log, bool strict)
    {
        RequestId = requestId;
        Door = door;
        Client = client;
        Event = eventBytes;
        _log = log;
        _strict = strict;
        Method = client.Request.Method;
        TraceId = TraceIds.ForFunction(client.Request.Headers[TraceIds.HeaderName].ToString() is { Length: > 0 } trace ? trace : TraceIds.NewRoot(log.TimeProvider.GetUtcNow()));
        Target = client.Request.Path + client.Request.QueryString;
        StartedAt = log.TimeProvider.GetUtcNow();
        _startTimestamp = log.TimeProvider.GetTimestamp();
        log.Feed?.Publish(new InvocationArrived(requestId, door.Kind, Method, Target, StartedAt));
    }

    public string RequestId { get; }

    /// <summary>
    /// The <c>Lambda-Runtime-Invocation-Id</c> of this invocation's delivery, new with every delivery (a retry that
    /// reuses the request id gets another); its answers must carry it back, or none.
    /// </summary>
    public string? InvocationId { get; set; }

    /// <summary>Whether the function answered without a <c>Lambda-Runtime-Invocation-Id</c> (accepted, as Lambda accepts it).</summary>
    public bool AnsweredWithoutInvocationId { get; set; }

    public FrontDoor Door { get; }

    public HttpContext Client { get; }

    public byte[] Event { get; }

    /// <summary>The client's method (kept: the client's context is recycled once its response ends).</summary>
    public string Method { get; }

    /// <summary>The <c>Lambda-Runtime-Trace-Id</c> the function gets: the request's trace, with a parent.</summary>
    public string TraceId { get; }

    /// <summary>The client's path and query.</summary>
    public string Target { get; }

    public DateTimeOffset StartedAt { get; }

    public Lock Sync { get; } = new();

    public InvocationState State { get; set; }

    /// <summary>Whether the function's time ran out (a late answer gets 410).</summary>
    public bool TimedOut { get; set; }

    /// <summary>Cancelled when the answer being read must stop (timeout, emulator stopping).</summary>
    public CancellationTokenSource AnswerCancellation { get; } = new();

    /// <summary>Absolute deadline given to the function.</summary>
    public DateTimeOffset Deadline { get; set; }

    public bool Streamed { get; set; }

    /// <summary>The ARN sent in <c>Lambda-Runtime-Invoked-Function-Arn</c> when it is not the unqualified one (a qualifier was asked for).</summary>
    public string? InvokedFunctionArn { get; init; }

    /// <summary>The caller's client context (JSON text) for <c>Lambda-Runtime-Client-Context</c>, when it sent one.</summary>
    public string? ClientContext { get; init; }

    /// <summary>What the function wrote while it ran this invocation, when the caller asked for the log (Lambda API calls only).</summary>
    public FunctionLogTail? Log { get; init; }

    /// <summary>The Lambda API call this invocation answers, when it came through the Lambda API.</summary>
    public LambdaApiCall? ApiCall { get; init; }

    /// <summary>Whether the environment was thawed to be given this invocation.</summary>
    public bool Thawed { get; set; }

    public bool ClientDisconnected { get; set; }

    public bool ClientAborted { get; private set; }

    /// <summary>Called once when the function is done with the invocation (it answered, or the invocation finished).</summary>
    public Action<EmulatedInvocation>? OnReleased { get; set; }

    private int _released;

    public TimeSpan? TimeToFirstByte { get; private set; }

    /// <summary>How the environment came to handle the invocation (set when the function is given the event).</summary>
    public InvocationStart Start { get; private set; }

    /// <summary>Completes when the invocation is finished and logged; the failure, if any.</summary>
    public Task<InvocationFailure?> Finished => _finished.Task;

    public long ResponseBytes => Interlocked.Read(ref _responseBytes);

    public TimeSpan Elapsed => _log.TimeProvider.GetElapsedTime(_startTimestamp);

    public bool IsFinished
    {
        get
        {
            lock (Sync)
            {
                return State == InvocationState.Finished;
            }
        }
    }

    public void CountResponseBytes(long count)
    {
        if (count > 0 && Interlocked.Add(ref _responseBytes, count) == count)
        {
            TimeToFirstByte = Elapsed;
        }
    }

    /// <summary>The function was given the event; <paramref name="start"/> tells how its environment came to handle it.</summary>
    public void Delivered(InvocationStart start)
    {
        Start = start;
        _log.Feed?.Publish(new InvocationDelivered(RequestId, Elapsed, start));
    }

    /// <summary>
    /// A flush to the client's connection completed: the body bytes written since the last report reached the client
    /// now (for the timeline page; nothing to do without one).
    /// </summary>
    public void ReportSent()
    {
        if (_log.Feed is { } feed)
        {
            lock (Sync)
            {
                if (State != InvocationState.Finished)
                {
                    PublishSent(feed);
                }
            }
        }
    }

    // Under Sync.
    private void PublishSent(InvocationFeed feed)
    {
        var bytes = ResponseBytes - _reportedBytes;
        if (bytes > 0)
        {
            _reportedBytes += bytes;
            _chunksSent++;
            feed.Publish(new ChunkSent(RequestId, Elapsed, bytes, Client.Response.StatusCode));
        }
    }

    /// <summary>
    /// Starts (or restarts) the deadline timer. It never expires early: system timers may fire a little before their
    /// due time, so an early tick re-arms for what is left, measured on the same clock as <see cref="Elapsed"/>.
    /// </summary>
    public void ArmTimer(TimeSpan dueIn, Action<EmulatedInvocation> onExpired)
    {
        lock (Sync)
        {
            _deadlineTimestamp = _log.TimeProvider.GetTimestamp();
            _deadlineDueIn = dueIn;
            _onExpired = onExpired;
            if (_deadlineTimer is null)
            {
                _deadlineTimer = _log.TimeProvider.CreateTimer(static state => ((EmulatedInvocation)state!).OnDeadlineTick(), this, dueIn, Timeout.InfiniteTimeSpan);
            }
            else
            {
                _deadlineTimer.Change(dueIn, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void OnDeadlineTick()
    {
        Action<EmulatedInvocation>? expired;
        lock (Sync)
        {
            if (_deadlineTimer is null)
            {
                return; // released or finished while this tick was on its way
            }

            var left = _deadlineDueIn - _log.TimeProvider.GetElapsedTime(_deadlineTimestamp);
            if (left > TimeSpan.Zero)
            {
                _deadlineTimer.Change(left + TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan);
                return;
            }

            expired = _onExpired;
        }

        expired?.Invoke(this);
    }

    /// <summary>The function is done with this invocation (its answer was accepted): its time stops and it may ask for the next.</summary>
    public void ReleaseFunction()
    {
        lock (Sync)
        {
            _deadlineTimer?.Dispose();
            _deadlineTimer = null;
        }

        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            OnReleased?.Invoke(this);
        }
    }

    /// <summary>Records a protocol violation by the function.</summary>
    /// <returns>Whether strict mode makes it fail the invocation.</returns>
    public bool Violation(string message)
    {
        var full = $"Invocation {RequestId} ({Door.Kind} {Method} {Target}): {message}";
        lock (Sync)
        {
            _violations.Add(message);
        }

        _log.Feed?.Publish(new ViolationSeen(RequestId, Elapsed, message));

        if (_strict)
        {
            _log.AddViolation(full);
        }

        return _strict;
    }

    /// <summary>
    /// Marks the invocation finished and logs it. When the client's response has started and the invocation failed, the
    /// client connection is aborted so the truncation is visible. Returns false if it was already finished.
    /// </summary>
    public bool Finish(InvocationFailure? failure)
    {
        lock (Sync)
        {
            if (State == InvocationState.Finished)
            {
                return false;
            }

            State = InvocationState.Finished;
            _deadlineTimer?.Dispose();
            _deadlineTimer = null;
            if (_log.Feed is { } feed && !ClientDisconnected)
            {
                PublishSent(feed); // what is left goes out with the response's end
            }
        }

        var abort = failure is not null && Client.Response.HasStarted && Door.CutsClientOnFailure;
        ClientAborted = abort;
        int status;
        if (failure is null)
        {
            status = Client.Response.StatusCode;
        }
        else
        {
            status = abort || !Door.CutsClientOnFailure ? Client.Response.StatusCode : failure.ClientStatusCode;
        }

        List<string> violations;
        lock (Sync)
        {
            violations = [.. _violations];
        }

        var record = new LambdaInvocationRecord
        {
            RequestId = RequestId,
            InvocationId = InvocationId,
            AnsweredWithoutInvocationId = AnsweredWithoutInvocationId,
            FrontDoor = Door.Kind,
            Method = Method,
            Target = Target,
            StartedAt = StartedAt,
            StatusCode = status,
            EventBytes = Event.Length,
            ResponseBytes = ResponseBytes,
            Streamed = Streamed,
            TimeToFirstByte = TimeToFirstByte,
            Duration = Elapsed,
            ErrorType = failure?.ErrorType,
            ErrorMessage = failure?.Message,
            ClientAborted = abort,
            ClientDisconnected = ClientDisconnected,
            ProtocolViolations = violations,
        };
        ReleaseFunction();
        _log.Add(record);
        _log.Feed?.Publish(new InvocationEnded(RequestId, record, _chunksSent));
        if (abort)
        {
            Client.Abort();
        }

        _finished.TrySetResult(failure);
        return true;
    }
}
