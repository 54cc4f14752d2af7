using System.Collections;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Logging;

/// <summary>
/// The log scope around everything logged while an invocation runs (and by work it started): the Lambda logger takes
/// the request id, trace id and tenant id of each entry from it, so each of several concurrent invocation loops gets
/// its own. Other providers see one property, <c>AwsRequestId</c> (<c>AwsRequestId:{id}</c> as text). One per
/// invocation; disposing it ends the scope.
/// </summary>
internal sealed class InvocationLogScope : IReadOnlyList<KeyValuePair<string, object?>>, IDisposable
{
    public const string RequestIdProperty = "AwsRequestId";

    // Guards the first read of the trace id against the loop reusing the invocation for the next one.
    private static readonly Lock TraceIdGate = new();
    private readonly Invocation _invocation;
    private IDisposable? _scope;
    private string? _traceId;
    private volatile bool _traceIdTaken;
    private bool _ended;

    private InvocationLogScope(Invocation invocation)
    {
        _invocation = invocation;
        RequestId = invocation.RequestId;
        TenantId = invocation.TenantId;
    }

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

    public int Count => 1;

    public KeyValuePair<string, object?> this[int index] => index == 0
        ? new KeyValuePair<string, object?>(RequestIdProperty, RequestId)
        : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Begins the scope of the invocation <paramref name="invocation"/> holds now.</summary>
    public static InvocationLogScope Begin(ILogger logger, Invocation invocation)
    {
        var scope = new InvocationLogScope(invocation);
        scope._scope = logger.BeginScope(scope);
        return scope;
    }

    /// <summary>The invocation is over: the scope ends, and its invocation object may be reused for the next one.</summary>
    public void Dispose()
    {
        _scope?.Dispose();
        lock (TraceIdGate)
        {
            _ended = true;
        }
    }

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        yield return this[0];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => RequestIdProperty + ":" + RequestId;
}
