namespace LambdaStreamingHosting.Server;

/// <summary>
/// Where a response is in its life, named after Kestrel's request-processing status. The first four follow each other
/// in this order; <see cref="Aborted"/> and <see cref="Broken"/> cut a response short and nothing follows them.
/// </summary>
internal enum ResponseState
{
    /// <summary>Status and headers may still change; nothing is sent. (Kestrel: the app is running.)</summary>
    NotStarted,

    /// <summary>
    /// <c>StartAsync</c> or the first write ran the <c>OnStarting</c> callbacks: status and headers are read-only and
    /// <c>HasStarted</c> is true, but the head (the prelude) is not on its way yet. (Kestrel: headers committed.)
    /// </summary>
    HeadCommitted,

    /// <summary>
    /// The head went to the wire with the first flush or write: from here on a failure can only end the stream with the
    /// error trailers. Buffered answers never reach it. (Kestrel: headers flushed.)
    /// </summary>
    HeadSent,

    /// <summary>
    /// The body is over (the last chunk is on its way, <c>CompleteAsync</c>, a complete <c>Content-Length</c>, or a
    /// status without body): writing more throws. (Kestrel: response completed.)
    /// </summary>
    Ended,

    /// <summary><c>HttpContext.Abort()</c>: later writes are dropped; the invocation ends with <c>LambdaStreaming.RequestAborted</c>.</summary>
    Aborted,

    /// <summary>The Runtime API connection broke while the response was sent: later writes are dropped, nothing more can be sent.</summary>
    Broken,
}
