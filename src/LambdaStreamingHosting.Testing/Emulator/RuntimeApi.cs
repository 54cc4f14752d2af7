using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// The Lambda Runtime API (version 2018-06-01) the function polls: <c>/next</c> hands out queued invocations (freezing
/// the environment while it waits), <c>/response</c> and <c>/error</c> answer them, <c>/init/error</c> reports a failed
/// start. Enforces one invocation at a time (or <see cref="LambdaEmulatorOptions.MaxConcurrency"/>) and the deadlines.
/// </summary>
internal sealed class RuntimeApi : IDisposable
{
    private const string Prefix = "/2018-06-01/runtime/";
    private const string NextPath = Prefix + "invocation/next";
    private const string InitErrorPath = Prefix + "init/error";
    private const string InvocationPrefix = Prefix + "invocation/";

    private readonly LambdaEmulatorOptions _options;
    private readonly InvocationLog _log;
    // Synchronous continuations: a waiting /next gets its event on the thread that queued it, without a thread-pool hop.
    // Never write to the queue while holding a lock.
    private readonly Channel<Invocation> _queue = Channel.CreateUnbounded<Invocation>(new UnboundedChannelOptions { AllowSynchronousContinuations = true });
    private readonly ConcurrentDictionary<string, Invocation> _invocations = new(StringComparer.Ordinal);
    private const int RememberedFinishedInvocations = 10_000;
    private readonly ConcurrentDictionary<string, bool> _finishedTimedOut = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _finishedOrder = new(); // oldest first, so memory stays bounded
    private readonly Action<Invocation> _onReleased; // cached delegates: none allocated per invocation
    private readonly Action<Invocation> _onDeadline;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _sync = new();
    private int _busy;     // invocations delivered and not finished
    private int _waiting;  // /next requests waiting for an event
    private Task _reset = Task.CompletedTask;
    private TaskCompletionSource _queued = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public RuntimeApi(LambdaEmulatorOptions options, InvocationLog log)
    {
        _options = options;
        _log = log;
        _onReleased = Forget;
        _onDeadline = OnDeadline;
    }

    private IFunctionEnvironment? Environment => _options.Environment;

    /// <summary>Queues an invocation for the function and starts its wait-for-pickup timer.</summary>
    public void Enqueue(Invocation invocation)
    {
        invocation.ArmTimer(_options.InitTimeout + _options.Timeout, _onDeadline);
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

    public void Stop()
    {
        _stopping.Cancel();
        _queue.Writer.TryComplete();
        foreach (var invocation in _invocations.Values)
        {
            invocation.AnswerCancellation.Cancel();
        }

        while (_queue.Reader.TryRead(out var queued))
        {
            queued.Finish(new InvocationFailure("Emulator.Stopped", "The emulator stopped before the function asked for the event."));
        }
    }

    public void Dispose() => _stopping.Dispose();

    public Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        if (path == NextPath)
        {
            return RequireMethod(context, HttpMethods.Get) ?? NextAsync(context);
        }

        if (path == InitErrorPath)
        {
            return RequireMethod(context, HttpMethods.Post) ?? InitErrorAsync(context);
        }

        if (path.StartsWith(InvocationPrefix, StringComparison.Ordinal))
        {
            var rest = path.AsSpan(InvocationPrefix.Length);
            var slash = rest.IndexOf('/');
            if (slash > 0)
            {
                var requestId = rest[..slash].ToString();
                var action = rest[(slash + 1)..];
                if (action.SequenceEqual("response"))
                {
                    return RequireMethod(context, HttpMethods.Post) ?? ResponseAsync(context, requestId);
                }

                if (action.SequenceEqual("error"))
                {
                    return RequireMethod(context, HttpMethods.Post) ?? ErrorAsync(context, requestId);
                }
            }
        }

        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    private static Task? RequireMethod(HttpContext context, string method)
    {
        if (string.Equals(context.Request.Method, method, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
        context.Response.Headers.Allow = method;
        return Task.CompletedTask;
    }

    // GET /runtime/invocation/next
    private async Task NextAsync(HttpContext context)
    {
        string? refusal = null;
        Invocation? unanswered = null;
        lock (_sync)
        {
            if (_busy + _waiting >= _options.MaxConcurrency)
            {
                unanswered = _invocations.Values.FirstOrDefault(i => i.State is InvocationState.Delivered or InvocationState.Answering);
                refusal = unanswered is null
                    ? "The function asked for the next event (GET /next) while another GET /next was still waiting."
                    : $"The function asked for the next event (GET /next) before answering invocation {unanswered.RequestId}: post its /response or /error first.";
            }
            else
            {
                _waiting++;
            }
        }

        if (refusal is not null)
        {
            if (unanswered is not null)
            {
                unanswered.Violation(refusal);
            }
            else if (_options.Strict)
            {
                _log.AddViolation(refusal);
            }

            await RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status403Forbidden, RuntimeApiReplies.InvalidStateTransition, refusal);
            return;
        }

        Invocation invocation;
        try
        {
            await _reset.WaitAsync(context.RequestAborted);
            invocation = await TakeNextAsync(context.RequestAborted);
        }
#pragma warning disable CA1031 // Whatever failed (the poller left, the emulator stopped, the environment failed to freeze or thaw), the slot is freed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            lock (_sync)
            {
                _waiting--;
            }

            if (!context.RequestAborted.IsCancellationRequested)
            {
                // 500 tells a runtime its container is broken: it exits, and a runner starts it again.
                var message = ex is OperationCanceledException or ChannelClosedException
                    ? "The emulator is stopping: exit."
                    : $"The execution environment failed: {ex.Message}";
                await RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status500InternalServerError, "Emulator.Unavailable", message);
            }

            return;
        }

        var now = _log.TimeProvider.GetUtcNow();
        invocation.Deadline = now + _options.Timeout;
        invocation.ArmTimer(_options.Timeout, _onDeadline);
        var headers = context.Response.Headers;
        headers["Lambda-Runtime-Aws-Request-Id"] = invocation.RequestId;
        headers["Lambda-Runtime-Deadline-Ms"] = invocation.Deadline.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        headers["Lambda-Runtime-Invoked-Function-Arn"] = _options.FunctionArn;
        headers["Lambda-Runtime-Trace-Id"] = invocation.TraceId;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = invocation.Event.Length;
        try
        {
            await context.Response.Body.WriteAsync(invocation.Event, context.RequestAborted);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The function's connection broke while the event was being sent: it never got it; the deadline will fail it.
        }
    }

    /// <summary>Takes the next live invocation, freezing the environment while there is none.</summary>
    private async Task<Invocation> TakeNextAsync(CancellationToken requestAborted)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, _stopping.Token);
        var frozen = false;
        while (true)
        {
            if (!_queue.Reader.TryRead(out var invocation))
            {
                if (!frozen && Environment is { } environment && _options.MaxConcurrency == 1)
                {
                    await environment.FreezeAsync(_stopping.Token);
                    frozen = true;
                }
                else if (!frozen && Environment is { } unfrozen)
                {
                    await unfrozen.NextEventRequestedAsync(_stopping.Token);
                }

                invocation = await _queue.Reader.ReadAsync(linked.Token);
            }
            else if (!frozen && Environment is { } busy)
            {
                await busy.NextEventRequestedAsync(_stopping.Token);
            }

            if (frozen)
            {
                try
                {
                    await Environment!.ThawAsync(_stopping.Token);
                }
                catch
                {
                    _queue.Writer.TryWrite(invocation); // not delivered: keep it for the next poller
                    throw;
                }

                frozen = false;
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
            _invocations[invocation.RequestId] = invocation;
            return invocation;
        }
    }

    /// <summary>The function is done with an invocation: forget its event and client, and remember only how it ended (for late or repeated answers).</summary>
    private void Forget(Invocation released)
    {
        lock (_sync)
        {
            _busy--;
        }

        _finishedTimedOut[released.RequestId] = released.TimedOut;
        _finishedOrder.Enqueue(released.RequestId);
        while (_finishedOrder.Count > RememberedFinishedInvocations && _finishedOrder.TryDequeue(out var oldest))
        {
            _finishedTimedOut.TryRemove(oldest, out _);
        }

        _invocations.TryRemove(released.RequestId, out _);
    }

    private void OnDeadline(Invocation invocation)
    {
        bool delivered;
        lock (invocation.Sync)
        {
            if (invocation.State == InvocationState.Finished)
            {
                return;
            }

            invocation.TimedOut = true;
            delivered = invocation.State != InvocationState.Queued;
            if (invocation.State == InvocationState.Answering)
            {
                invocation.AnswerCancellation.Cancel(); // the answering request finishes it
            }
        }

        if (!invocation.IsFinished && !invocation.AnswerCancellation.IsCancellationRequested)
        {
            invocation.Finish(delivered
                ? new InvocationFailure("Sandbox.Timeout", $"Task timed out after {_options.Timeout.TotalSeconds:0.###} seconds.")
                : new InvocationFailure("Sandbox.Timeout", $"The function did not ask for the event (GET /next) within {(_options.InitTimeout + _options.Timeout).TotalSeconds:0.###} seconds."));
        }

        ResetEnvironment("Sandbox.Timeout");
    }

    /// <summary>Resets the environment (cold start next time); <c>/next</c> waits until the reset is done.</summary>
    public void ResetEnvironment(string reason)
    {
        if (Environment is not { } environment || _stopping.IsCancellationRequested)
        {
            return;
        }

        lock (_sync)
        {
            var previous = _reset;
            _reset = Task.Run(async () =>
            {
                await previous.ConfigureAwait(false);
                try
                {
                    await environment.ResetAsync(reason, _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                }
            });
        }
    }

    /// <summary>
    /// Finds the invocation an answer is for and moves it to <see cref="InvocationState.Answering"/>, or replies with the
    /// Runtime API's error and returns <see langword="null"/>.
    /// </summary>
    private async Task<Invocation?> BeginAnswerAsync(HttpContext context, string requestId, string route)
    {
        if (!_invocations.TryGetValue(requestId, out var invocation))
        {
            if (_finishedTimedOut.TryGetValue(requestId, out var timedOut) && timedOut)
            {
                await RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status410Gone, RuntimeApiReplies.InvokeTimeout, $"Invocation {requestId} timed out; the answer came too late.");
                return null;
            }

            if (_finishedTimedOut.ContainsKey(requestId) && _options.Strict)
            {
                _log.AddViolation($"Invocation {requestId}: the function posted /{route} for an invocation it had already answered.");
            }

            await RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status400BadRequest, RuntimeApiReplies.InvalidRequestId, "Invalid request ID");
            return null;
        }

        string? problem = null;
        lock (invocation.Sync)
        {
            if (invocation.State == InvocationState.Delivered)
            {
                invocation.State = InvocationState.Answering;
                return invocation;
            }

            if (!invocation.TimedOut)
            {
                problem = $"The function posted /{route} for invocation {requestId}, which it had already answered.";
            }
        }

        if (problem is null)
        {
            await RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status410Gone, RuntimeApiReplies.InvokeTimeout, $"Invocation {requestId} timed out; the answer came too late.");
        }
        else
        {
            invocation.Violation(problem);
            await RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status400BadRequest, RuntimeApiReplies.InvalidRequestId, "Invalid request ID");
        }

        return null;
    }

    // POST /runtime/invocation/{id}/response
    private async Task ResponseAsync(HttpContext context, string requestId)
    {
        var mode = context.Request.Headers["Lambda-Runtime-Function-Response-Mode"];
        var streaming = mode.Count > 0;
        if (streaming && !string.Equals(mode.ToString(), "streaming", StringComparison.Ordinal))
        {
            if (_invocations.TryGetValue(requestId, out var known))
            {
                known.Violation($"Lambda-Runtime-Function-Response-Mode must be exactly 'streaming' (or absent for a buffered answer), not '{mode}'.");
            }

            await RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status400BadRequest, RuntimeApiReplies.InvalidFunctionResponseMode, $"Invalid function response mode '{mode}'.");
            return;
        }

        var invocation = await BeginAnswerAsync(context, requestId, "response");
        if (invocation is null)
        {
            return;
        }

        using var reading = CancellationTokenSource.CreateLinkedTokenSource(invocation.AnswerCancellation.Token, context.RequestAborted, _stopping.Token);
        var answer = new AnswerReader(context, invocation, _options, reading.Token);
        AnswerOutcome outcome;
        try
        {
            outcome = streaming ? await answer.ReadStreamedAsync() : await answer.ReadBufferedAsync();
        }
        catch (Exception ex)
        {
            // A fault of the emulator itself: the client must not wait for the deadline.
            invocation.Finish(new InvocationFailure("Emulator.InternalError", ex.ToString()));
            throw;
        }

        if (outcome.Crashed && !invocation.TimedOut)
        {
            ResetEnvironment(outcome.Failure?.ErrorType ?? "Runtime.ExitError");
        }

        if (invocation.TimedOut)
        {
            // Time ran out just as the answer ended: its last bytes, left for the response's end, go out before the cut.
            await FlushClientAsync(invocation);
            invocation.Finish(new InvocationFailure("Sandbox.Timeout", $"Task timed out after {_options.Timeout.TotalSeconds:0.###} seconds (while the function was answering)."));
            context.Abort(); // Lambda cuts the function's stream
            return;
        }

        if (outcome.Buffered is { } buffered)
        {
            // The function is done once its answer is accepted; a slow client must not hold it.
            invocation.ReleaseFunction();
            await RuntimeApiReplies.AcceptedAsync(context);
            _ = WriteBufferedAnswerAsync(invocation, buffered);
            return;
        }

        invocation.Finish(outcome.Failure);
        if (outcome.ReplyStatus == StatusCodes.Status202Accepted)
        {
            await RuntimeApiReplies.AcceptedAsync(context);
        }
        else if (!outcome.Crashed)
        {
            await RuntimeApiReplies.ErrorAsync(context, outcome.ReplyStatus, outcome.ReplyErrorType!, outcome.ReplyMessage!);
        }
    }

    /// <summary>Sends what the client response holds unsent, waiting at most a second for a client that is not reading.</summary>
    private static async Task FlushClientAsync(Invocation invocation)
    {
        var response = invocation.Client.Response;
        if (!response.HasStarted || invocation.ClientDisconnected)
        {
            return;
        }

        try
        {
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await response.BodyWriter.FlushAsync(patience.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            // The client is gone: nothing to deliver.
        }
    }

    private async Task WriteBufferedAnswerAsync(Invocation invocation, ClientAnswer answer)
    {
        InvocationFailure? failure;
        try
        {
            failure = await answer.WriteAsync(_stopping.Token);
        }
        catch (OperationCanceledException)
        {
            failure = new InvocationFailure("Emulator.Stopped", "The emulator stopped while the answer was being sent.");
        }

        invocation.Finish(failure);
    }

    // POST /runtime/invocation/{id}/error
    private async Task ErrorAsync(HttpContext context, string requestId)
    {
        var invocation = await BeginAnswerAsync(context, requestId, "error");
        if (invocation is null)
        {
            return;
        }

        using var reading = CancellationTokenSource.CreateLinkedTokenSource(invocation.AnswerCancellation.Token, context.RequestAborted, _stopping.Token);
        var (errorType, errorMessage) = await ReadErrorReportAsync(context, reading.Token);
        if (invocation.TimedOut)
        {
            invocation.Finish(new InvocationFailure("Sandbox.Timeout", $"Task timed out after {_options.Timeout.TotalSeconds:0.###} seconds."));
            context.Abort();
            return;
        }

        invocation.Finish(new InvocationFailure(errorType, errorMessage));
        await RuntimeApiReplies.AcceptedAsync(context);
    }

    // POST /runtime/init/error
    private async Task InitErrorAsync(HttpContext context)
    {
        var (errorType, errorMessage) = await ReadErrorReportAsync(context, context.RequestAborted);
        if (_queue.Reader.TryRead(out var first))
        {
            first.Finish(new InvocationFailure(errorType, "The function failed to start: " + errorMessage));
        }

        await RuntimeApiReplies.AcceptedAsync(context);
        ResetEnvironment(errorType);
    }

    /// <summary>Reads an error report: the <c>Lambda-Runtime-Function-Error-Type</c> header and the JSON body.</summary>
    private static async Task<(string ErrorType, string Message)> ReadErrorReportAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var headerType = context.Request.Headers["Lambda-Runtime-Function-Error-Type"].ToString();
        byte[] body;
        try
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, cancellationToken);
            body = buffer.ToArray();
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or BadHttpRequestException)
        {
            body = [];
        }

        var (bodyType, message) = ErrorDocument.Parse(body);
        var errorType = headerType.Length > 0 ? headerType : bodyType ?? "Runtime.Unknown";
        return (errorType, message ?? "(no errorMessage)");
    }
}

/// <summary>Reads the <c>{"errorMessage":…,"errorType":…,"stackTrace":[…]}</c> document a function reports errors with.</summary>
internal static class ErrorDocument
{
    public static (string? ErrorType, string? Message) Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, null);
            }

            var type = document.RootElement.TryGetProperty("errorType", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            var message = document.RootElement.TryGetProperty("errorMessage", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            return (type, message);
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }
}
