using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// <c>POST /runtime/invocation/{id}/response</c> and <c>/error</c>: the function answers an invocation it was given.
/// The answer is read (<see cref="AnswerReader"/>: a streamed one reaches the client as it arrives), the invocation
/// finishes with what it led to, and the function gets <c>202</c> or the Runtime API's error. An answer for an unknown,
/// finished or timed-out invocation gets <c>400</c> or <c>410</c>, and so does, with <c>410</c>, an answer whose
/// <c>Lambda-Runtime-Invocation-Id</c> is not the current delivery's (the late answer of an earlier delivery of a reused
/// request id). An answer without that header is accepted, as Lambda accepts it, and recorded on the invocation.
/// </summary>
internal sealed class AnswerEndpoints(LambdaEmulatorOptions options, InvocationLog log, DeliveredInvocations delivered, EnvironmentResets resets, InvocationDeadlines deadlines, CancellationToken stopping)
{
    // POST /runtime/invocation/{id}/response
    public async Task ResponseAsync(HttpContext context, string requestId)
    {
        var mode = context.Request.Headers["Lambda-Runtime-Function-Response-Mode"];
        var streaming = mode.Count > 0;
        if (streaming && !string.Equals(mode.ToString(), "streaming", StringComparison.Ordinal))
        {
            if (delivered.TryGet(requestId, out var known))
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

        using var reading = CancellationTokenSource.CreateLinkedTokenSource(invocation.AnswerCancellation.Token, context.RequestAborted, stopping);
        var answer = new AnswerReader(context, invocation, options, reading.Token);
        AnswerOutcome outcome;
        try
        {
            outcome = streaming ? await answer.ReadStreamedAsync() : await answer.ReadBufferedAsync();
        }
        catch (Exception ex)
        {
            // A fault of the emulator itself: the client must not wait for the deadline.
            invocation.Finish(new InvocationFailure(EmulatorErrorTypes.InternalError, ex.ToString()));
            throw;
        }

        if (outcome.Crashed && !invocation.TimedOut)
        {
            resets.Reset(outcome.Failure?.ErrorType ?? EmulatorErrorTypes.ExitError);
        }

        if (invocation.TimedOut)
        {
            // Time ran out just as the answer ended: its last bytes, left for the response's end, go out before the cut.
            await FlushClientAsync(invocation);
            invocation.Finish(deadlines.TimedOut(whileAnswering: true));
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

    // POST /runtime/invocation/{id}/error
    public async Task ErrorAsync(HttpContext context, string requestId)
    {
        var invocation = await BeginAnswerAsync(context, requestId, "error");
        if (invocation is null)
        {
            return;
        }

        using var reading = CancellationTokenSource.CreateLinkedTokenSource(invocation.AnswerCancellation.Token, context.RequestAborted, stopping);
        var (errorType, errorMessage, document) = await ErrorReport.ReadAsync(context, reading.Token);
        if (invocation.TimedOut)
        {
            invocation.Finish(deadlines.TimedOut());
            context.Abort();
            return;
        }

        invocation.Finish(new InvocationFailure(errorType, errorMessage) { ErrorDocument = document });
        await RuntimeApiReplies.AcceptedAsync(context);
    }

    /// <summary>
    /// Finds the invocation an answer is for and moves it to <see cref="InvocationState.Answering"/>, or replies with the
    /// Runtime API's error and returns <see langword="null"/>.
    /// </summary>
    private async Task<EmulatedInvocation?> BeginAnswerAsync(HttpContext context, string requestId, string route)
    {
        if (!delivered.TryGet(requestId, out var invocation))
        {
            var finished = delivered.TryGetFinished(requestId, out var timedOut);
            if (finished && timedOut)
            {
                await RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status410Gone, RuntimeApiReplies.InvokeTimeout, $"Invocation {requestId} timed out; the answer came too late.");
                return null;
            }

            if (finished && options.Strict)
            {
                log.AddViolation($"Invocation {requestId}: the function posted /{route} for an invocation it had already answered.");
            }

            await RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status400BadRequest, RuntimeApiReplies.InvalidRequestId, "Invalid request ID");
            return null;
        }

        var echoed = context.Request.Headers[RuntimeApiReplies.InvocationIdHeader];
        if (echoed.Count > 0 && !string.Equals(echoed.ToString(), invocation.InvocationId, StringComparison.Ordinal))
        {
            // Another delivery's answer: with the echo Lambda can tell, and refuses it instead of giving it to this one.
            await RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status410Gone, RuntimeApiReplies.ErrorRuntimeInvokeTimeout,
                $"The answer for {requestId} carries Lambda-Runtime-Invocation-Id '{echoed}', not the current delivery's: it came too late.");
            return null;
        }

        string? problem = null;
        lock (invocation.Sync)
        {
            if (invocation.State == InvocationState.Delivered)
            {
                invocation.State = InvocationState.Answering;
                invocation.AnsweredWithoutInvocationId = echoed.Count == 0;
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

    /// <summary>Sends what the client response holds unsent, waiting at most a second for a client that is not reading.</summary>
    private static async Task FlushClientAsync(EmulatedInvocation invocation)
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

    /// <summary>Writes an accepted buffered answer to the client (the function already got its 202) and finishes the invocation.</summary>
    private async Task WriteBufferedAnswerAsync(EmulatedInvocation invocation, ClientAnswer answer)
    {
        InvocationFailure? failure;
        try
        {
            failure = await invocation.Door.WriteBufferedAsync(invocation, answer, stopping);
        }
        catch (OperationCanceledException)
        {
            failure = new InvocationFailure(EmulatorErrorTypes.Stopped, "The emulator stopped while the answer was being sent.");
        }

        invocation.Finish(failure);
    }
}
