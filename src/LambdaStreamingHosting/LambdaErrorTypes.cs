namespace LambdaStreamingHosting;

/// <summary>
/// The <c>errorType</c> values the server reports to Lambda when it cannot serve an invocation (on
/// <c>/runtime/invocation/{id}/error</c> or in the error trailers of a stream that already started). They appear in
/// the function's logs, in Lambda's error metrics and as <c>error.type</c> of the <c>faas.errors</c> metric, and they
/// are stable: alarms and metric filters may match on them. A response the app failed is reported with the exception's
/// short type name instead (such as <c>InvalidOperationException</c>), as Lambda's own runtimes report errors.
/// <c>docs/errors.md</c> says when each occurs and what to do about it.
/// </summary>
public static class LambdaErrorTypes
{
    /// <summary>The event is empty or not valid JSON.</summary>
    public const string InvalidEventJson = "LambdaStreaming.InvalidEventJson";

    /// <summary>An event field has the wrong JSON type or text that is not valid UTF-8, or a required field is missing.</summary>
    public const string InvalidEventField = "LambdaStreaming.InvalidEventField";

    /// <summary>The event's body is marked <c>isBase64Encoded</c> but is not standard base64.</summary>
    public const string InvalidEventBase64 = "LambdaStreaming.InvalidEventBase64";

    /// <summary>The event is JSON but not an HTTP event of a front end the server understands (Function URL, API Gateway, ALB).</summary>
    public const string UnknownEventShape = "LambdaStreaming.UnknownEventShape";

    /// <summary>
    /// <see cref="LambdaStreamingOptions.EventSource"/> pins an event source, and the event came from another.
    /// </summary>
    public const string EventSourceMismatch = "LambdaStreaming.EventSourceMismatch";

    /// <summary>
    /// Mapping the event to a request failed with an unexpected exception, whose message the error carries: a defect
    /// of the server, worth reporting with the event.
    /// </summary>
    public const string EventMappingFailed = "LambdaStreaming.EventMappingFailed";

    /// <summary>A buffered response is larger than the front end accepts; nothing was sent.</summary>
    public const string ResponseTooLarge = "LambdaStreaming.ResponseTooLarge";

    /// <summary>The app aborted the request with <c>HttpContext.Abort()</c>.</summary>
    public const string RequestAborted = "LambdaStreaming.RequestAborted";

    /// <summary>
    /// The host stopped (for example on <c>SIGTERM</c>, Lambda's shutdown phase) while the invocation ran, and it was
    /// still running when the host's shutdown timeout ran out.
    /// </summary>
    public const string Shutdown = "LambdaStreaming.Shutdown";

    /// <summary>A response failed without an exception to name the failure.</summary>
    public const string UnhandledException = "Runtime.UnhandledException";
}
