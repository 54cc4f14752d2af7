namespace LambdaStreamingHosting;

/// <summary>
/// Options for running the app inside AWS Lambda. Bound from the <c>LambdaStreaming</c> configuration section
/// (for example the environment variable <c>LambdaStreaming__InvokeMode=Buffered</c>), then from the delegate given to
/// <see cref="Microsoft.Extensions.DependencyInjection.LambdaStreamingServiceCollectionExtensions.AddLambdaStreaming"/>; validated when the host starts.
/// </summary>
public sealed class LambdaStreamingOptions
{
    /// <summary>The configuration section the options are bound from: <c>LambdaStreaming</c>.</summary>
    public const string ConfigurationSectionName = "LambdaStreaming";

    /// <summary>
    /// Whether responses are streamed or buffered. Must match the Function URL's <c>InvokeMode</c>
    /// (<c>RESPONSE_STREAM</c> or <c>BUFFERED</c>). Default: <see cref="LambdaInvokeMode.ResponseStream"/>.
    /// </summary>
    public LambdaInvokeMode InvokeMode { get; set; } = LambdaInvokeMode.ResponseStream;

    /// <summary>
    /// The front end the function serves. Default: <see cref="LambdaEventSource.Auto"/>, which detects it per
    /// invocation from the event's shape.
    /// </summary>
    public LambdaEventSource EventSource { get; set; } = LambdaEventSource.Auto;

    /// <summary>
    /// How long before the invocation's deadline <c>HttpContext.RequestAborted</c> fires, so the app can stop cleanly
    /// instead of being cut off mid-write. Default: 500 ms.
    /// </summary>
    public TimeSpan DeadlineMargin { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Whether an unhandled exception's message and stack trace are sent: in the 500 body before the response started,
    /// or in the error trailer after (whose <c>errorType</c> is the exception's type name either way). Default:
    /// <see langword="false"/>; exceptions are always logged.
    /// </summary>
    public bool IncludeExceptionDetails { get; set; }

    /// <summary>
    /// Streaming: the most response bytes written and not yet taken by the Runtime API connection before a write or
    /// flush waits, as Kestrel's <c>KestrelServerLimits.MaxResponseBufferSize</c>. Every write and flush goes out at
    /// once, whatever this size; writes made while a send is in flight leave together with the next one, and only
    /// beyond this many unsent bytes does the writer wait, so a slow reader slows the app instead of growing memory.
    /// <c>0</c>: every write waits until it was sent; <see langword="null"/>: never wait (unbounded memory). Default:
    /// 64 KiB, as on Kestrel.
    /// </summary>
    public long? MaxResponseBufferSize { get; set; } = 64 * 1024;

    /// <summary>
    /// Streaming: how long a <c>text/event-stream</c> answer may stay quiet before a comment line (<c>: keep-alive</c>
    /// and an empty line, which SSE clients skip) is sent, so a front end that cuts an idle origin (CloudFront after its
    /// origin read timeout, 30 s by default; API Gateway) keeps the stream open. A comment goes out only between events
    /// (everything written was flushed, it ends an event, and nothing else waits to be sent), only after the response
    /// started, and never once the app returned; answers of other content types and buffered answers never get one.
    /// Kestrel sends no such comments. <see cref="TimeSpan.Zero"/>: none. Default: 15 s.
    /// </summary>
    public TimeSpan ServerSentEventsKeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Kestrel's request limits, with Kestrel's names and defaults: requests over them are answered 431 or 414 (and
    /// requests with a header Kestrel refuses, 400) without running the app. Bound from <c>LambdaStreaming:Limits</c>.
    /// </summary>
    public LambdaStreamingLimits Limits { get; } = new();

    /// <summary>
    /// Whether the caller's identity from the front end (REST authorizer claims, HTTP API JWT claims, Function URL IAM
    /// identity) becomes <c>HttpContext.User</c>. Default: <see langword="false"/>: the identity is still available from
    /// the raw event.
    /// </summary>
    public bool MapIdentityToUser { get; set; }

    /// <summary>
    /// Whether a request that carries no W3C <c>traceparent</c> header continues the invocation's X-Ray trace
    /// (<c>Lambda-Runtime-Trace-Id</c>): its <c>Activity</c> then has the X-Ray trace id, the X-Ray parent segment as
    /// parent, and X-Ray's sampling decision. Turn it on when traces go to X-Ray (or CloudWatch Application Signals) with
    /// active tracing. Default: <see langword="false"/>: without active tracing Lambda still passes a header, marked not
    /// sampled, which would make a parent-based sampler drop every trace, and a backend other than X-Ray never sees the
    /// parent segment; the request's activity is then a root unless the caller sent a <c>traceparent</c>.
    /// </summary>
    public bool ContinueXRayTrace { get; set; }

    /// <summary>
    /// Buffered mode: content types sent as text; every other content type is sent base64-encoded. Entries are exact
    /// media types (<c>application/json</c>), type wildcards (<c>text/*</c>) or suffixes (<c>*+json</c>). Default:
    /// <c>text/*</c>, <c>application/json</c>, <c>*+json</c>, <c>application/xml</c>, <c>*+xml</c>,
    /// <c>application/javascript</c>, <c>application/x-www-form-urlencoded</c>.
    /// </summary>
    public IList<string> TextContentTypes { get; } =
    [
        "text/*",
        "application/json",
        "*+json",
        "application/xml",
        "*+xml",
        "application/javascript",
        "application/x-www-form-urlencoded",
    ];

    /// <summary>
    /// Whether, inside Lambda, log entries are written to standard output one per line (each line is one CloudWatch
    /// event) in Lambda's format: JSON when the function's log format is JSON (<c>AWS_LAMBDA_LOG_FORMAT</c>), otherwise
    /// one line of text; <c>AWS_LAMBDA_LOG_LEVEL</c> sets the minimum level. ASP.NET Core's console logger, which writes
    /// an entry over several lines, is then silenced. Lines are written by a background thread and, when one invocation
    /// runs at a time, are all out before the next event is requested (the wait is bounded at 1 s). Default:
    /// <see langword="true"/>; <see langword="false"/> keeps the app's logging providers as configured. Outside Lambda
    /// nothing changes either way.
    /// </summary>
    public bool UseLambdaLogger { get; set; } = true;

    /// <summary>
    /// How many invocations run at once. Default: <c>AWS_LAMBDA_MAX_CONCURRENCY</c> when set (Lambda Managed Instances),
    /// otherwise 1.
    /// </summary>
    public int? MaxConcurrency { get; set; }

    /// <summary>
    /// Warm-up requests run through the app before a SnapStart snapshot, or during init with
    /// <see cref="LambdaWarmUpOptions.DuringInit"/> (see <see cref="LambdaWarmUpOptions"/>).
    /// Bound from <c>LambdaStreaming:WarmUp</c>.
    /// </summary>
    public LambdaWarmUpOptions WarmUp { get; } = new();

    /// <summary>
    /// The Runtime API endpoint (<c>host:port</c>, optionally followed by a path). Default: the
    /// <c>AWS_LAMBDA_RUNTIME_API</c> environment variable.
    /// </summary>
    public string? RuntimeApiEndpoint { get; set; }
}
