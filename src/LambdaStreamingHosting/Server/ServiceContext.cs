using LambdaStreamingHosting.Lifecycle;
using LambdaStreamingHosting.Logging;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// What an invocation loop needs from the server, handed to it once when it is made (as Kestrel hands its connections
/// a <c>ServiceContext</c>): the options, the clock, the telemetry, the lifecycle notifier, the logger and the log
/// flush. The loop never calls back into the server; the server builds this once and uses it itself too.
/// </summary>
internal sealed class ServiceContext
{
    private static readonly TimeSpan LogFlushTimeout = TimeSpan.FromSeconds(1);
    private readonly LambdaLoggerProvider? _lambdaLogger;
    private int _warnedCannotStream;
    private int _warnedInvocationIdIgnored;

    public ServiceContext(
        LambdaStreamingOptions options,
        TimeProvider time,
        InvocationTelemetry telemetry,
        LifecycleNotifier lifecycle,
        ILogger logger,
        LambdaLoggerProvider? lambdaLogger,
        int concurrency,
        bool setTraceIdEnvironmentVariable)
    {
        Options = options;
        Time = time;
        Telemetry = telemetry;
        Lifecycle = lifecycle;
        Logger = logger;
        _lambdaLogger = lambdaLogger;
        Concurrency = concurrency;
        SetTraceIdEnvironmentVariable = setTraceIdEnvironmentVariable;
    }

    /// <summary>
    /// Whether the loops given this context serve warm-up requests (<see cref="WarmUpRunner"/>): none of their
    /// invocations is then measured, recorded in traces or seen by the lifecycle hooks, no freeze is expected between
    /// them, and each request's invocation feature says it is a warm-up.
    /// </summary>
    public bool IsWarmUp { get; private init; }

    /// <summary>The validated options, read once when the server was made.</summary>
    public LambdaStreamingOptions Options { get; }

    /// <summary>
    /// The server's clock (<see cref="LambdaServerSettings.Time"/>): deadlines, <c>RemainingTime</c> and the idle time
    /// between invocations.
    /// </summary>
    public TimeProvider Time { get; }

    /// <summary>The Lambda metrics and the FaaS attributes of the request's span.</summary>
    public InvocationTelemetry Telemetry { get; }

    /// <summary>Calls the lifecycle observers; it alone catches and logs their failures between invocations.</summary>
    public LifecycleNotifier Lifecycle { get; }

    /// <summary>The server's logger (<c>LambdaStreamingHosting.Server</c>).</summary>
    public ILogger Logger { get; }

    /// <summary>How many invocation loops run: with one, the process may freeze between invocations.</summary>
    public int Concurrency { get; }

    /// <summary>Whether <c>_X_AMZN_TRACE_ID</c> is set per invocation (inside Lambda, one invocation at a time).</summary>
    public bool SetTraceIdEnvironmentVariable { get; }

    /// <summary>Whether the Lambda logger writes this app's log entries (each invocation then sets its <see cref="InvocationLogContext"/>).</summary>
    public bool LambdaLoggerEnabled => _lambdaLogger?.Enabled == true;

    /// <summary>
    /// Waits (at most 1 s) until everything logged so far through the Lambda logger is on standard output: before each
    /// <c>/next</c> when one invocation runs at a time (after <c>OnFreezingAsync</c>), since Lambda may freeze the
    /// process as soon as it asks; before a SnapStart snapshot (ahead of <c>/restore/next</c>); and at shutdown, once the
    /// host's timeout ran out and the invocations still running were aborted.
    /// </summary>
    public void FlushLogs() => _lambdaLogger?.Flush(LogFlushTimeout);

    /// <summary>This context for a warm-up loop (<see cref="IsWarmUp"/>): one loop, no trace id variable.</summary>
    public ServiceContext ForWarmUp() =>
        new(Options, Time, Telemetry, Lifecycle, Logger, _lambdaLogger, concurrency: 1, setTraceIdEnvironmentVariable: false) { IsWarmUp = true };

    /// <summary>Logs, once per process, that events of a source that cannot stream are answered buffered.</summary>
    public void WarnCannotStream(LambdaEventSource source)
    {
        if (Interlocked.Exchange(ref _warnedCannotStream, 1) == 0)
        {
            Log.SourceCannotStream(Logger, source);
        }
    }

    /// <summary>Logs, once per process, that a <c>Lambda-Runtime-Invocation-Id</c> that is not a printable token was ignored.</summary>
    public void WarnInvocationIdIgnored(string requestId)
    {
        if (Interlocked.Exchange(ref _warnedInvocationIdIgnored, 1) == 0)
        {
            Log.InvocationIdIgnored(Logger, requestId);
        }
    }
}
