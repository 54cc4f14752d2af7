using System.Globalization;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// What the server reads from the Lambda execution environment, captured once so nothing reads process-global
/// state per invocation (and tests can host the server without setting environment variables), and its clock.
/// </summary>
internal sealed class LambdaServerSettings
{
    /// <summary>
    /// The clock of the server: deadlines (<c>RequestAborted</c>'s timer and <c>RemainingTime</c>) and the idle time
    /// between invocations. <see cref="TimeProvider.System"/> unless a test gives the one its Runtime API runs on.
    /// </summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The Runtime API endpoint (<c>AWS_LAMBDA_RUNTIME_API</c>), unless the options name one.</summary>
    public string? RuntimeApiEndpoint { get; init; }

    /// <summary><c>AWS_LAMBDA_MAX_CONCURRENCY</c> (Lambda Managed Instances), unless the options name one.</summary>
    public int? MaxConcurrency { get; init; }

    /// <summary>
    /// <c>AWS_LAMBDA_DOTNET_MIN_THREADS</c>: the thread pool's minimum worker threads, instead of the loops plus the
    /// processor count that several loops get (see <see cref="ThreadPoolMinimum"/>); 0 leaves the pool alone.
    /// </summary>
    public int? MinThreads { get; init; }

    /// <summary><c>AWS_REGION</c>: the region the function runs in (the <c>cloud.region</c> of its telemetry).</summary>
    public string? Region { get; init; }

    /// <summary><c>AWS_LAMBDA_INITIALIZATION_TYPE</c>: <c>snap-start</c> runs the snapshot and restore hooks.</summary>
    public string? InitializationType { get; init; }

    /// <summary>
    /// Whether <c>_X_AMZN_TRACE_ID</c> is set per invocation (only inside Lambda, and only when one invocation runs at a
    /// time, because it is process-wide).
    /// </summary>
    public bool SetTraceIdEnvironmentVariable { get; init; }

    /// <summary>
    /// Whether a broken Runtime API sets <see cref="Environment.ExitCode"/> to 1 (inside Lambda; never for an in-process
    /// test host, where it would fail the test run).
    /// </summary>
    public bool SetProcessExitCode { get; init; }

    /// <summary>Whether <see cref="RuntimeApiEndpoint"/> wins over <c>LambdaStreamingOptions.RuntimeApiEndpoint</c> (set by tests).</summary>
    public bool EndpointOverridesOptions { get; init; }

    /// <summary>
    /// Whether the init phase ended and whether its failure was reported: shared by the server and the
    /// unhandled-exception hook, which may run on any thread, so kept apart from these settings and synchronised.
    /// </summary>
    public InitPhase Init { get; } = new();

    /// <summary>
    /// The Runtime API endpoint the server uses with <paramref name="options"/>: the environment's (or a test's) when
    /// it overrides the options, else the options' when they name one, else the environment's. The one place this
    /// precedence is written (the server and the options validator both ask here).
    /// </summary>
    public string? EndpointFor(LambdaStreamingOptions options) =>
        EndpointOverridesOptions ? RuntimeApiEndpoint : options.RuntimeApiEndpoint ?? RuntimeApiEndpoint;

    /// <summary>The environment variable that switches the server on.</summary>
    public const string RuntimeApiVariable = "AWS_LAMBDA_RUNTIME_API";

    public static LambdaServerSettings FromEnvironment() => new()
    {
        RuntimeApiEndpoint = Environment.GetEnvironmentVariable(RuntimeApiVariable),
        MaxConcurrency = int.TryParse(Environment.GetEnvironmentVariable("AWS_LAMBDA_MAX_CONCURRENCY"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : null,
        MinThreads = ThreadPoolMinimum.Parse(Environment.GetEnvironmentVariable(ThreadPoolMinimum.Variable)),
        InitializationType = Environment.GetEnvironmentVariable("AWS_LAMBDA_INITIALIZATION_TYPE"),
        Region = Environment.GetEnvironmentVariable("AWS_REGION"),
        SetTraceIdEnvironmentVariable = true,
        SetProcessExitCode = true,
    };
}

/// <summary>How far the init phase got, written by the server and read by the unhandled-exception hook (any thread).</summary>
internal sealed class InitPhase
{
    private int _completed;
    private int _errorReported;

    /// <summary>Whether the server started its invocation loops (the first <c>/next</c> is on its way): failures after that are no longer init failures.</summary>
    public bool IsCompleted => Volatile.Read(ref _completed) == 1;

    /// <summary>The loops started: the init phase is over.</summary>
    public void Complete() => Volatile.Write(ref _completed, 1);

    /// <summary>The server reported the init failure itself: the hook must not report it again.</summary>
    public void MarkErrorReported() => Volatile.Write(ref _errorReported, 1);

    /// <summary>True for the first caller only, which reports the init failure; it is never reported twice.</summary>
    public bool TryClaimErrorReport() => Interlocked.Exchange(ref _errorReported, 1) == 0;
}
