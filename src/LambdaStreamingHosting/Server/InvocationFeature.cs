using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Server;

/// <summary>The Lambda invocation behind a request (<see cref="ILambdaInvocationFeature"/>).</summary>
internal sealed class InvocationFeature : ILambdaInvocationFeature
{
    private readonly Invocation _invocation;
    private readonly TimeProvider _time;

    public InvocationFeature(Invocation invocation, LambdaEventSource eventSource, TimeProvider time)
    {
        _invocation = invocation;
        _time = time;
        EventSource = eventSource;
    }

    public string AwsRequestId => _invocation.RequestId;

    public DateTimeOffset Deadline => _invocation.Deadline;

    public TimeSpan RemainingTime
    {
        get
        {
            var left = Deadline - _time.GetUtcNow();
            return left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
    }

    public string InvokedFunctionArn => _invocation.InvokedFunctionArn;

    public string? TraceId => _invocation.TraceId;

    public string? ClientContext => _invocation.ClientContext;

    public string? CognitoIdentity => _invocation.CognitoIdentity;

    public string? TenantId => _invocation.TenantId;

    public LambdaEventSource EventSource { get; }

    public ReadOnlyMemory<byte> RawEvent => _invocation.Event;
}
