namespace LambdaStreamingHosting.OpenTelemetry;

/// <summary>
/// How long the function may wait, after each answer and before it asks Lambda for the next event (after which Lambda
/// may freeze it), for its spans and metrics to be exported. Bound from the <c>LambdaStreaming:TelemetryFlush</c>
/// configuration section (for example <c>LambdaStreaming__TelemetryFlush__Timeout=00:00:02</c>), or set with
/// <c>services.Configure&lt;LambdaTelemetryFlushOptions&gt;(...)</c>; validated when the host starts.
/// </summary>
public sealed class LambdaTelemetryFlushOptions
{
    /// <summary>The configuration section the options are bound from: <c>LambdaStreaming:TelemetryFlush</c>.</summary>
    public const string ConfigurationSectionName = "LambdaStreaming:TelemetryFlush";

    /// <summary>
    /// The longest wait for the export before the next event is requested. Lambda bills it, and a queued event waits
    /// for it, so it bounds what an unreachable collector costs each invocation; when it is hit a warning is logged and
    /// what was not exported yet goes out after the next thaw. Default: 1 second.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);
}
