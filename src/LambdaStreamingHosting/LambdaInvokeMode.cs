namespace LambdaStreamingHosting;

/// <summary>
/// How the function answers an invocation. A function cannot detect how it was invoked, so this is configuration,
/// and the deployed Function URL's <c>InvokeMode</c> must agree with it.
/// </summary>
public enum LambdaInvokeMode
{
    /// <summary>
    /// The response is streamed to the Runtime API as it is written (Function URL <c>RESPONSE_STREAM</c>,
    /// API Gateway REST <c>responseTransferMode: STREAM</c>). The default.
    /// </summary>
    ResponseStream = 0,

    /// <summary>
    /// The response is collected and sent as one JSON document when the app finishes (Function URL <c>BUFFERED</c>,
    /// API Gateway REST and HTTP APIs, Application Load Balancer).
    /// </summary>
    Buffered = 1,
}
