using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Server;

/// <summary>The server's log messages (source-generated, so they cost nothing when disabled).</summary>
internal static partial class Log
{
    private static readonly Func<ILogger, string, IDisposable?> InvocationScopeFactory =
        LoggerMessage.DefineScope<string>("AwsRequestId:{AwsRequestId}");

    /// <summary>A log scope carrying the invocation's request id, around everything logged while it runs.</summary>
    public static IDisposable? InvocationScope(ILogger logger, string awsRequestId) => InvocationScopeFactory(logger, awsRequestId);

    [LoggerMessage(1, LogLevel.Information, "Taking requests from the Lambda Runtime API at {Endpoint} ({Mode}, {Concurrency} invocation loop(s)).")]
    public static partial void Started(ILogger logger, string endpoint, string mode, int concurrency);

    [LoggerMessage(2, LogLevel.Error, "An unhandled exception was thrown by the application.")]
    public static partial void ApplicationError(ILogger logger, Exception exception);

    [LoggerMessage(3, LogLevel.Error, "The application failed after the response started; the stream ends with the error trailers.")]
    public static partial void ApplicationErrorAfterStart(ILogger logger, Exception exception);

    [LoggerMessage(4, LogLevel.Warning, "The invocation's event could not be mapped to a request ({ErrorType}): {Message}")]
    public static partial void InvalidEvent(ILogger logger, string errorType, string message);

    [LoggerMessage(5, LogLevel.Warning, "The Runtime API answered {Request} with {Reply}.")]
    public static partial void UnexpectedReply(ILogger logger, string request, string reply);

    [LoggerMessage(6, LogLevel.Critical, "The Lambda Runtime API failed; the process exits so Lambda can reset the environment.")]
    public static partial void RuntimeApiFatal(ILogger logger, Exception exception);

    [LoggerMessage(7, LogLevel.Warning, "{Source} events cannot be streamed (InvokeMode is ResponseStream): they are answered buffered. Set LambdaStreaming:InvokeMode to Buffered if this function only serves {Source}.")]
    public static partial void SourceCannotStream(ILogger logger, LambdaEventSource source);

    [LoggerMessage(8, LogLevel.Error, "An OnCompleted callback failed.")]
    public static partial void OnCompletedFailed(ILogger logger, Exception exception);

    [LoggerMessage(9, LogLevel.Error, "A lifecycle observer failed in {Stage}.")]
    public static partial void ObserverFailed(ILogger logger, string stage, Exception exception);

    [LoggerMessage(10, LogLevel.Critical, "The init phase failed; reported to /runtime/init/error.")]
    public static partial void InitFailed(ILogger logger, Exception exception);

    [LoggerMessage(11, LogLevel.Error, "The response is larger than the front end accepts: {Message}")]
    public static partial void ResponseTooLarge(ILogger logger, string message);

    [LoggerMessage(12, LogLevel.Warning, "The request was aborted by the application; the invocation ends with an error.")]
    public static partial void RequestAborted(ILogger logger);

    [LoggerMessage(13, LogLevel.Error, "The connection to the Runtime API broke while the response was streamed; the invocation is abandoned.")]
    public static partial void StreamBroken(ILogger logger, Exception exception);

    [LoggerMessage(14, LogLevel.Error, "The application failed after the response had ended; nothing more can be sent.")]
    public static partial void ApplicationErrorAfterEnd(ILogger logger, Exception exception);

    [LoggerMessage(15, LogLevel.Warning, "The request was answered 414 without running the app: its request line is {Bytes} bytes, more than LambdaStreaming:Limits:MaxRequestLineSize ({Limit}), as Kestrel refuses it. Raise the limit if such requests are expected.")]
    public static partial void RequestLineTooLong(ILogger logger, long bytes, int limit);

    [LoggerMessage(16, LogLevel.Warning, "The request was answered 431 without running the app: its header lines total {Bytes} bytes, more than LambdaStreaming:Limits:MaxRequestHeadersTotalSize ({Limit}), as Kestrel refuses it. Raise the limit if such requests are expected.")]
    public static partial void RequestHeadersTooLarge(ILogger logger, long bytes, int limit);

    [LoggerMessage(17, LogLevel.Warning, "The request was answered 431 without running the app: it has {Count} header lines, more than LambdaStreaming:Limits:MaxRequestHeaderCount ({Limit}), as Kestrel refuses it. Raise the limit if such requests are expected.")]
    public static partial void TooManyRequestHeaders(ILogger logger, int count, int limit);

    [LoggerMessage(18, LogLevel.Warning, "The request was answered 400 without running the app: header '{HeaderName}' has a character Kestrel refuses (CR, LF or NUL; in a name also a space, a tab or a non-ASCII character).")]
    public static partial void InvalidRequestHeader(ILogger logger, string headerName);

    [LoggerMessage(19, LogLevel.Warning, "The request was answered 400 without running the app: its target has a NUL character (raw, or %00 in the path), which Kestrel refuses.")]
    public static partial void InvalidRequestTarget(ILogger logger);

    [LoggerMessage(20, LogLevel.Warning, "The Runtime API refused a late answer to invocation {AwsRequestId} (410 {Reply}): the invocation had timed out, or a newer delivery of the same request id had taken its place. The answer was dropped and this environment goes on serving.")]
    public static partial void LateAnswerRefused(ILogger logger, string awsRequestId, string reply);

    [LoggerMessage(21, LogLevel.Warning, "The Lambda-Runtime-Invocation-Id header of invocation {AwsRequestId} is not a printable token; it is ignored and not sent back with the answer (this warning is logged once per process).")]
    public static partial void InvocationIdIgnored(ILogger logger, string awsRequestId);

    [LoggerMessage(22, LogLevel.Information, "The thread pool keeps at least {Threads} threads ready, so each of the {Concurrency} invocation loops can reach /next while app code blocks threads (AWS_LAMBDA_DOTNET_MIN_THREADS changes it).")]
    public static partial void ThreadPoolMinimumRaised(ILogger logger, int threads, int concurrency);

    // Shutdown (ids from 100).
    [LoggerMessage(100, LogLevel.Warning, "The host is stopping and its shutdown timeout ran out: {Count} invocation(s) in flight are aborted (a response that started ends with the LambdaStreaming.Shutdown error).")]
    public static partial void AbortingAtShutdown(ILogger logger, int count);

    [LoggerMessage(101, LogLevel.Warning, "{Count} aborted invocation(s) did not end within {GraceMilliseconds} ms; the host stops without them.")]
    public static partial void AbandonedAtShutdown(ILogger logger, int count, double graceMilliseconds);

    [LoggerMessage(102, LogLevel.Debug, "An invocation loop ended while the host was stopping.")]
    public static partial void LoopEndedAtShutdown(ILogger logger, Exception exception);

    [LoggerMessage(103, LogLevel.Information, "The invocation was aborted because the host is stopping.")]
    public static partial void AbortedAtShutdown(ILogger logger);

    // Warm-up (ids from 200).
    [LoggerMessage(200, LogLevel.Debug, "Warm-up request {Request}: {Outcomes}.")]
    public static partial void WarmUpRequestRan(ILogger logger, string request, string outcomes);

    [LoggerMessage(201, LogLevel.Warning, "Warm-up request {Request} failed: {Outcomes}. The init goes on; the code it did not reach is not warmed up.")]
    public static partial void WarmUpRequestFailed(ILogger logger, string request, string outcomes);

    [LoggerMessage(202, LogLevel.Information, "Ran {Count} warm-up request(s) {Phase} in {ElapsedMilliseconds:0} ms{Failures}.")]
    public static partial void WarmUpDone(ILogger logger, int count, string phase, double elapsedMilliseconds, string failures);

    [LoggerMessage(203, LogLevel.Warning, "The warm-up failed {Phase}; the init goes on.")]
    public static partial void WarmUpFailed(ILogger logger, string phase, Exception exception);

    [LoggerMessage(204, LogLevel.Warning, "A warm-up request did not end within {GraceSeconds} s of being aborted; the init goes on without it.")]
    public static partial void WarmUpAbandoned(ILogger logger, double graceSeconds);
}
