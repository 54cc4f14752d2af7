using System.Globalization;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// <c>GET /runtime/invocation/next</c>: the function asks for its next event. A poll beyond
/// <see cref="LambdaEmulatorOptions.MaxConcurrency"/> (the function has not answered the one it holds) gets 403; otherwise
/// it waits for any environment reset, then takes an invocation from the queue (frozen while none waits), starts the
/// function's time on it and sends its event with the <c>Lambda-Runtime-*</c> headers.
/// </summary>
internal sealed class NextEndpoint(LambdaEmulatorOptions options, InvocationLog log, InvocationQueue queue, DeliveredInvocations delivered, EnvironmentResets resets, InvocationDeadlines deadlines)
{
    public async Task HandleAsync(HttpContext context)
    {
        if (!queue.TryStartPoll())
        {
            await RefuseAsync(context);
            return;
        }

        EmulatedInvocation invocation;
        try
        {
            await resets.WaitAsync(context.RequestAborted);
            invocation = await queue.TakeNextAsync(context.RequestAborted);
        }
#pragma warning disable CA1031 // Whatever failed (the poller left, the emulator stopped, the environment failed to freeze or thaw), the slot is freed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            queue.EndPoll();
            if (!context.RequestAborted.IsCancellationRequested)
            {
                // 500 tells a runtime its container is broken: it exits, and a runner starts it again.
                var message = ex is OperationCanceledException or ChannelClosedException
                    ? "The emulator is stopping: exit."
                    : $"The execution environment failed: {ex.Message}";
                await RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status500InternalServerError, RuntimeApiReplies.Unavailable, message);
            }

            return;
        }

        deadlines.StartAnswer(invocation);
        invocation.Delivered(resets.TakeColdStart() ? (options.SnapStart ? InvocationStart.Restored : InvocationStart.Cold)
            : invocation.Thawed ? InvocationStart.Thawed : InvocationStart.Warm);
        var headers = context.Response.Headers;
        headers["Lambda-Runtime-Aws-Request-Id"] = invocation.RequestId;
        headers[RuntimeApiReplies.InvocationIdHeader] = invocation.InvocationId;
        headers["Lambda-Runtime-Deadline-Ms"] = invocation.Deadline.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        headers["Lambda-Runtime-Invoked-Function-Arn"] = invocation.InvokedFunctionArn ?? options.FunctionArn;
        headers["Lambda-Runtime-Trace-Id"] = invocation.TraceId;
        if (invocation.ClientContext is { } clientContext)
        {
            headers["Lambda-Runtime-Client-Context"] = clientContext;
        }
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

    /// <summary>403: the function asked for an event while it holds an unanswered one, or while another poll waits.</summary>
    private Task RefuseAsync(HttpContext context)
    {
        var unanswered = delivered.FirstUnanswered();
        var refusal = unanswered is null
            ? "The function asked for the next event (GET /next) while another GET /next was still waiting."
            : $"The function asked for the next event (GET /next) before answering invocation {unanswered.RequestId}: post its /response or /error first.";
        if (unanswered is not null)
        {
            unanswered.Violation(refusal);
        }
        else if (options.Strict)
        {
            log.AddViolation(refusal);
        }

        return RuntimeApiReplies.ErrorAsync(context, StatusCodes.Status403Forbidden, RuntimeApiReplies.InvalidStateTransition, refusal);
    }
}
