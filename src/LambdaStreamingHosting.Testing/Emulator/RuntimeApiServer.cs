using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// The Lambda Runtime API (version 2018-06-01) the function polls, routed to its parts: <c>GET /next</c>
/// (<see cref="NextEndpoint"/>) hands out what the front doors put in the <see cref="InvocationQueue"/>;
/// <c>POST /response</c> and <c>/error</c> (<see cref="AnswerEndpoints"/>) answer an invocation the function was given
/// (<see cref="DeliveredInvocations"/>); <c>POST /init/error</c> reports a failed start; <c>/restore/next</c> and
/// <c>/restore/error</c> (<see cref="SnapStartEndpoints"/>) take and restore a SnapStart snapshot. <see cref="InvocationDeadlines"/>
/// enforces the time limits, and <see cref="EnvironmentResets"/> gives the function a cold start after a failure.
/// </summary>
internal sealed class RuntimeApiServer : IDisposable
{
    private const string Prefix = "/2018-06-01/runtime/";
    private const string NextPath = Prefix + "invocation/next";
    private const string InitErrorPath = Prefix + "init/error";
    private const string RestoreNextPath = Prefix + "restore/next";
    private const string RestoreErrorPath = Prefix + "restore/error";
    private const string InvocationPrefix = Prefix + "invocation/";

    private readonly CancellationTokenSource _stopping = new();
    private readonly DeliveredInvocations _delivered = new();
    private readonly EnvironmentResets _resets;
    private readonly NextEndpoint _next;
    private readonly AnswerEndpoints _answers;
    private readonly SnapStartEndpoints _snapStart;

    public RuntimeApiServer(LambdaEmulatorOptions options, InvocationLog log)
    {
        _resets = new EnvironmentResets(options.Environment, _stopping.Token);
        var deadlines = new InvocationDeadlines(options, _resets);
        Queue = new InvocationQueue(options, deadlines, _delivered, _stopping.Token);
        _next = new NextEndpoint(options, log, Queue, _delivered, _resets, deadlines);
        _answers = new AnswerEndpoints(options, log, _delivered, _resets, deadlines, _stopping.Token);
        _snapStart = new SnapStartEndpoints(options, log, Queue, _resets, _stopping.Token);
    }

    /// <summary>The invocations the function holds.</summary>
    public DeliveredInvocations Delivered => _delivered;

    /// <summary>Where the front doors put the invocations they make.</summary>
    public InvocationQueue Queue { get; }

    /// <summary>Stops: answers being read are cancelled, waiting <c>/next</c> requests end, queued invocations fail.</summary>
    public void Stop()
    {
        _stopping.Cancel();
        _delivered.CancelAnswers();
        Queue.Stop();
    }

    public void Dispose() => _stopping.Dispose();

    public Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        if (path == NextPath)
        {
            _snapStart.NextRequested();
            return RequireMethod(context, HttpMethods.Get) ?? _next.HandleAsync(context);
        }

        if (path == RestoreNextPath)
        {
            return RequireMethod(context, HttpMethods.Get) ?? _snapStart.RestoreNextAsync(context);
        }

        if (path == RestoreErrorPath)
        {
            return RequireMethod(context, HttpMethods.Post) ?? _snapStart.RestoreErrorAsync(context);
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
                    return RequireMethod(context, HttpMethods.Post) ?? _answers.ResponseAsync(context, requestId);
                }

                if (action.SequenceEqual("error"))
                {
                    return RequireMethod(context, HttpMethods.Post) ?? _answers.ErrorAsync(context, requestId);
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

    // POST /runtime/init/error: the first queued invocation fails with the report, and the environment starts again.
    private async Task InitErrorAsync(HttpContext context)
    {
        var (errorType, errorMessage, _) = await ErrorReport.ReadAsync(context, context.RequestAborted);
        if (Queue.TryTakeQueued(out var first))
        {
            first.Finish(new InvocationFailure(errorType, "The function failed to start: " + errorMessage));
        }

        await RuntimeApiReplies.AcceptedAsync(context);
        _resets.Reset(errorType);
    }
}
