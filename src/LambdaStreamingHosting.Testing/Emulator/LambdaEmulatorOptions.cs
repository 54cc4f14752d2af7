using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// Settings of a <see cref="LambdaEmulator"/>. The defaults are Lambda's own limits, so a test fails here the way the
/// function would fail when deployed. Validated by <see cref="LambdaEmulator.StartAsync"/>.
/// </summary>
public sealed class LambdaEmulatorOptions
{
    /// <summary>Lambda's limit on an invocation's event: 6,291,456 bytes.</summary>
    public const int LambdaMaxEventBytes = 6_291_456;

    /// <summary>Lambda's limit on a buffered answer posted to the Runtime API: 6,291,556 bytes.</summary>
    public const int LambdaMaxBufferedResponseBytes = 6_291_556;

    /// <summary>Lambda's limit on a streamed answer: 200 MB (209,715,200 bytes).</summary>
    public const long LambdaMaxStreamedResponseBytes = 200L * 1024 * 1024;

    /// <summary>The Application Load Balancer's limit on a request or response body: 1 MB (1,048,576 bytes).</summary>
    public const int AlbMaxBodyBytes = 1024 * 1024;

    /// <summary>
    /// The Function URL's <c>InvokeMode</c>: <see cref="LambdaInvokeMode.ResponseStream"/> (the default) forwards the
    /// function's stream to the client as it arrives; <see cref="LambdaInvokeMode.Buffered"/> expects one JSON answer.
    /// </summary>
    public LambdaInvokeMode InvokeMode { get; set; } = LambdaInvokeMode.ResponseStream;

    /// <summary>
    /// Whether the REST API front door uses <c>responseTransferMode: STREAM</c> (the function streams, and its prelude
    /// may carry <c>multiValueHeaders</c>). Default: <see langword="false"/> (buffered).
    /// </summary>
    public bool RestApiStreaming { get; set; }

    /// <summary>The REST API stage; the REST API URL is <c>http://127.0.0.1:port/{stage}/</c>. Default: <c>test</c>.</summary>
    public string RestApiStage { get; set; } = "test";

    /// <summary>
    /// The HTTP API stage. <c>$default</c> (the default) serves at the root; any other stage is a path prefix that
    /// stays in <c>rawPath</c>, as API Gateway does.
    /// </summary>
    public string HttpApiStage { get; set; } = "$default";

    /// <summary>
    /// Whether the load balancer target group has multi-value headers turned on (the event carries
    /// <c>multiValueHeaders</c>/<c>multiValueQueryStringParameters</c> and the answer must too). Default: <see langword="false"/>.
    /// </summary>
    public bool AlbMultiValueHeaders { get; set; }

    /// <summary>
    /// The function's timeout: an invocation not finished this long after the function received it is cut
    /// (<c>Sandbox.Timedout</c>): the client gets 502 (or its connection is aborted if the response had started) and the
    /// environment is reset. Default: 30 seconds. Lambda allows 1 second to 900 seconds.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Allowance for the function to ask for an event (start-up, or earlier invocations still running): an event not
    /// picked up within <see cref="InitTimeout"/> plus <see cref="Timeout"/> gets the client a 502
    /// (<c>Sandbox.Timedout</c>) and the environment is reset. Default: 30 seconds.
    /// </summary>
    public TimeSpan InitTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether the function is published with SnapStart, as Lambda runs it: the function (started with
    /// <c>AWS_LAMBDA_INITIALIZATION_TYPE=snap-start</c>) asks <c>GET /runtime/restore/next</c> once initialised and its
    /// before-snapshot work done; the emulator then takes the "snapshot" (it freezes the <see cref="Environment"/>) and
    /// restores it for the first event (thaws it and answers the call). The work before the snapshot counts against the
    /// pickup allowance (<see cref="InitTimeout"/>); the work after the restore must end within <see cref="RestoreTimeout"/>
    /// (else <c>SnapStartTimeoutException</c>); a failure reported to <c>/runtime/restore/error</c> fails the event with
    /// <c>SnapStartException</c>. Both reset the environment. Default: <see langword="false"/> (the function asking
    /// <c>/restore/next</c> is then a protocol violation).
    /// </summary>
    public bool SnapStart { get; set; }

    /// <summary>
    /// SnapStart: how long after the restore the function may take to ask for its event (Lambda's limit on the runtime's
    /// load and its after-restore hooks). Default: 10 seconds, Lambda's.
    /// </summary>
    public TimeSpan RestoreTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Where the function runs. The emulator freezes it while idle, thaws it for the next event and resets it after a
    /// timeout or crash. Default: <see langword="null"/>, an in-process function that needs none of this.
    /// </summary>
    public IFunctionEnvironment? Environment { get; set; }

    /// <summary>
    /// Strict mode (the default): every protocol violation by the function (for example <c>Content-Length</c> in the
    /// prelude, an undeclared trailer, <c>/next</c> before answering, answering buffered to a streaming URL) is recorded
    /// in <see cref="LambdaEmulator.ProtocolViolations"/> and in the invocation's log entry, the client gets 502 with the
    /// violation in the <c>x-lambda-emulator-error</c> header when the response has not started, and
    /// <see cref="LambdaEmulator.DisposeAsync"/> throws <see cref="LambdaProtocolViolationException"/>. Off: violations
    /// behave only as Lambda behaves (some 502, some pass).
    /// </summary>
    public bool Strict { get; set; } = true;

    /// <summary>
    /// How many invocations the function may handle at once (Lambda Managed Instances, <c>AWS_LAMBDA_MAX_CONCURRENCY</c>).
    /// Above 1 the function is never frozen. Default: 1.
    /// </summary>
    public int MaxConcurrency { get; set; } = 1;

    /// <summary>Largest event the function accepts; bigger requests get 413. Default: <see cref="LambdaMaxEventBytes"/>.</summary>
    public int MaxEventBytes { get; set; } = LambdaMaxEventBytes;

    /// <summary>
    /// Largest buffered answer; bigger ones get <c>413 RequestEntityTooLarge</c> at the Runtime API and 502 at the
    /// client. Default: <see cref="LambdaMaxBufferedResponseBytes"/>.
    /// </summary>
    public int MaxBufferedResponseBytes { get; set; } = LambdaMaxBufferedResponseBytes;

    /// <summary>
    /// Largest streamed answer (prelude included); past it the stream is cut (<c>Function.ResponseSizeTooLarge</c>).
    /// Default: <see cref="LambdaMaxStreamedResponseBytes"/>.
    /// </summary>
    public long MaxStreamedResponseBytes { get; set; } = LambdaMaxStreamedResponseBytes;

    /// <summary>Largest load balancer request or response body. Default: <see cref="AlbMaxBodyBytes"/>.</summary>
    public int MaxAlbBodyBytes { get; set; } = AlbMaxBodyBytes;

    /// <summary>
    /// Whether streamed responses are paced as Lambda paces them: the first <see cref="UncappedResponseBytes"/> at full
    /// speed, then <see cref="ThrottledBytesPerSecond"/>. Default: <see langword="false"/>.
    /// </summary>
    public bool BandwidthShaping { get; set; }

    /// <summary>Streamed bytes sent at full speed before pacing starts. Default: 6 MB (6,291,456 bytes).</summary>
    public long UncappedResponseBytes { get; set; } = 6L * 1024 * 1024;

    /// <summary>Pace of a streamed response after <see cref="UncappedResponseBytes"/>. Default: 2 MB/s (2,097,152 bytes per second).</summary>
    public long ThrottledBytesPerSecond { get; set; } = 2L * 1024 * 1024;

    /// <summary>Port of the Runtime API. Default: 0, a free port (read <see cref="LambdaEmulator.RuntimeApiEndpoint"/>).</summary>
    public int RuntimeApiPort { get; set; }

    /// <summary>Port of the Function URL front door. Default: 0, a free port (read <see cref="LambdaEmulator.FunctionUrl"/>).</summary>
    public int FunctionUrlPort { get; set; }

    /// <summary>Port of the REST API front door. Default: 0, a free port (read <see cref="LambdaEmulator.RestApiUrl"/>).</summary>
    public int RestApiPort { get; set; }

    /// <summary>Port of the HTTP API front door. Default: 0, a free port (read <see cref="LambdaEmulator.HttpApiUrl"/>).</summary>
    public int HttpApiPort { get; set; }

    /// <summary>Port of the load balancer front door. Default: 0, a free port (read <see cref="LambdaEmulator.AlbUrl"/>).</summary>
    public int AlbPort { get; set; }

    /// <summary>Port of Lambda's invoke API (<c>Invoke</c>, <c>InvokeWithResponseStream</c>). Default: 0, a free port (read <see cref="LambdaEmulator.LambdaApiUrl"/>).</summary>
    public int LambdaApiPort { get; set; }

    /// <summary>The function's name, used in its ARN. Default: <c>function</c>.</summary>
    public string FunctionName { get; set; } = "function";

    /// <summary>The region used in ARNs. Default: <c>us-east-1</c>.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>The account id used in ARNs and events. Default: <c>123456789012</c>.</summary>
    public string AccountId { get; set; } = "123456789012";

    /// <summary>
    /// Where the emulator logs: a line per finished invocation (information), each protocol violation (warning) and
    /// its web server's own messages. Default: <see langword="null"/>, no logging.
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// The clock for deadlines, timeouts, pacing and the log. Under <see cref="LambdaApplicationFactory{TEntryPoint}"/>,
    /// the app's server reads its deadlines (<c>RequestAborted</c>, <c>RemainingTime</c>) on it too, so a fake clock
    /// moves both. Default: <see cref="TimeProvider.System"/>.
    /// </summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Where the Function URL serves the live timeline page of invocations (e.g. <c>/_lambda/</c>, with its event stream
    /// at <c>/_lambda/events</c>), a path the function then never gets; <see langword="null"/> (the default): no page,
    /// and no event is recorded for one. Set by the runner.
    /// </summary>
    internal string? TimelinePath { get; set; }

    /// <summary>The invoked function's ARN, as sent in <c>Lambda-Runtime-Invoked-Function-Arn</c>.</summary>
    public string FunctionArn => $"arn:aws:lambda:{Region}:{AccountId}:function:{FunctionName}";

    /// <summary>A copy, so a derived factory's changes do not leak into its parent's.</summary>
    internal LambdaEmulatorOptions Clone() => (LambdaEmulatorOptions)MemberwiseClone();

    /// <summary>Checks the options, throwing an exception that says which setting to change.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        Require(Timeout > TimeSpan.Zero && Timeout <= TimeSpan.FromMinutes(15), nameof(Timeout), $"must be more than 0 and at most 15 minutes (Lambda's maximum); it is {Timeout}.");
        Require(InitTimeout > TimeSpan.Zero, nameof(InitTimeout), $"must be more than 0; it is {InitTimeout}.");
        Require(RestoreTimeout > TimeSpan.Zero, nameof(RestoreTimeout), $"must be more than 0; it is {RestoreTimeout}.");
        Require(MaxConcurrency >= 1, nameof(MaxConcurrency), $"must be at least 1; it is {MaxConcurrency}.");
        Require(MaxEventBytes > 0, nameof(MaxEventBytes), $"must be more than 0; it is {MaxEventBytes}.");
        Require(MaxBufferedResponseBytes > 0, nameof(MaxBufferedResponseBytes), $"must be more than 0; it is {MaxBufferedResponseBytes}.");
        Require(MaxStreamedResponseBytes > 0, nameof(MaxStreamedResponseBytes), $"must be more than 0; it is {MaxStreamedResponseBytes}.");
        Require(MaxAlbBodyBytes > 0, nameof(MaxAlbBodyBytes), $"must be more than 0; it is {MaxAlbBodyBytes}.");
        Require(UncappedResponseBytes >= 0, nameof(UncappedResponseBytes), $"must be 0 or more; it is {UncappedResponseBytes}.");
        Require(ThrottledBytesPerSecond > 0, nameof(ThrottledBytesPerSecond), $"must be more than 0; it is {ThrottledBytesPerSecond}.");
        foreach (var (name, port) in new[] { (nameof(RuntimeApiPort), RuntimeApiPort), (nameof(FunctionUrlPort), FunctionUrlPort), (nameof(RestApiPort), RestApiPort), (nameof(HttpApiPort), HttpApiPort), (nameof(AlbPort), AlbPort), (nameof(LambdaApiPort), LambdaApiPort) })
        {
            Require(port is >= 0 and <= 65535, name, $"must be 0 (a free port) or a port number up to 65535; it is {port}.");
        }

        Require(IsPathSegment(RestApiStage) && RestApiStage != "$default", nameof(RestApiStage), $"must be a non-empty stage name without '/', '?' or '#' (and not $default); it is '{RestApiStage}'.");
        Require(IsPathSegment(HttpApiStage), nameof(HttpApiStage), $"must be $default or a stage name without '/', '?' or '#'; it is '{HttpApiStage}'.");
        Require(!string.IsNullOrWhiteSpace(FunctionName), nameof(FunctionName), "must not be empty.");
        Require(!string.IsNullOrWhiteSpace(Region), nameof(Region), "must not be empty.");
        Require(!string.IsNullOrWhiteSpace(AccountId), nameof(AccountId), "must not be empty.");
        Require(TimeProvider is not null, nameof(TimeProvider), "must not be null.");
    }

    private static bool IsPathSegment(string? value) =>
        !string.IsNullOrEmpty(value) && value.IndexOfAny(['/', '?', '#', ' ']) < 0;

    private static void Require(bool condition, string option, string problem)
    {
        if (!condition)
        {
            throw new ArgumentException($"LambdaEmulatorOptions.{option} {problem}", option);
        }
    }
}
