namespace LambdaStreamingHosting.Server;

/// <summary>How a response ended, decided once for both the streamed and the buffered answer.</summary>
internal enum ResponseEnding
{
    /// <summary>The body is complete (an exception after a complete body is only logged).</summary>
    Clean,

    /// <summary>The app failed before the response started: the answer is a 500 (a 413 for a body over the request limit).</summary>
    FailedBeforeStart,

    /// <summary>
    /// The app failed after the response started: a streamed answer ends with the error trailers, a buffered one (of
    /// which nothing was sent) becomes a 500.
    /// </summary>
    FailedAfterStart,

    /// <summary>The app called <c>HttpContext.Abort()</c>: <c>/error</c> while nothing was sent, else the error trailers.</summary>
    Aborted,

    /// <summary>
    /// The body is shorter than its <c>Content-Length</c>: a 500 while nothing was sent, else the error trailers, as on
    /// Kestrel.
    /// </summary>
    ShortOfContentLength,

    /// <summary>The Runtime API connection broke: only a reply it sent before closing is read.</summary>
    Broken,
}

/// <summary>
/// What became of one response, set when its invocation was answered: how it ended, the status the caller got, the
/// body bytes sent, when the first byte went to the wire (a <see cref="System.Diagnostics.Stopwatch"/> timestamp, from
/// the response's <see cref="ResponseState"/>; 0 when nothing was sent), the <c>errorType</c> reported to Lambda (in the
/// error trailers or on <c>/error</c>), if any, and whether the answer was streamed (else one buffered document).
/// </summary>
internal readonly record struct ResponseOutcome(ResponseEnding Ending, int StatusCode, long BodyBytes, long FirstByteTimestamp, string? ErrorType, bool Streamed);
