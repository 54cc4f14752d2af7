using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Logging;

/// <summary>
/// The invocation that the code running now belongs to, for the Lambda logger (which takes each entry's request id,
/// trace id and tenant id from it): an async local, so each of several concurrent invocation loops has its own and work
/// an invocation started keeps it. It is set only while the Lambda logger is on; other providers see the invocation as
/// the <c>AwsRequestId</c> log scope. Reading it costs nothing per entry, where walking the logger factory's scopes
/// would build an activity scope per request. One per invocation; disposing it ends it.
/// </summary>
internal sealed class InvocationLogContext : IDisposable
{
    private static readonly AsyncLocal<InvocationLogContext?> CurrentContext = new();

    // Guards the first read of the trace id against the loop reusing the invocation for the next one.
    private static readonly Lock TraceIdGate = new();
    private readonly Invocation _invocation;
    private string? _traceId;
    private volatile bool _traceIdTaken;
    private bool _ended;

    private InvocationLogContext(Invocation invocation)
    {
        _invocation = invocation;
        RequestId = invocation.RequestId;
        TenantId = invocation.TenantId;
    }

    /// <summary>The invocation the code running now belongs to; <see langword="null"/> outside invocations.</summary>
    public static InvocationLogContext? Current => CurrentContext.Value;

    public string RequestId { get; }

    public string? TenantId { get; }

    /// <summary>
    /// The invocation's X-Ray trace header, decoded when first asked for while the invocation runs (never, when nothing
    /// is logged); work the invocation left running that logs only after it ended gets <see langword="null"/> unless
    /// an entry took it before.
    /// </summary>
    public string? TraceId
    {
        get
        {
            if (!_traceIdTaken)
            {
                lock (TraceIdGate)
                {
                    if (!_traceIdTaken)
                    {
                        _traceId = _ended ? null : _invocation.TraceId;
                        _traceIdTaken = true;
                    }
                }
            }

            return _traceId;
        }
    }

    /// <summary>Makes the invocation <paramref name="invocation"/> holds now <see cref="Current"/>.</summary>
    public static InvocationLogContext Begin(Invocation invocation)
    {
        var context = new InvocationLogContext(invocation);
        CurrentContext.Value = context;
        return context;
    }

    /// <summary>Makes an invocation the context of log entries written outside the loop (for tests).</summary>
    internal static InvocationLogContext Of(Invocation invocation) => new(invocation);

    /// <summary>The invocation is over (its invocation object may be reused for the next one); work it started keeps it.</summary>
    public void Dispose()
    {
        if (CurrentContext.Value == this)
        {
            CurrentContext.Value = null;
        }

        lock (TraceIdGate)
        {
            _ended = true;
        }
    }
}
