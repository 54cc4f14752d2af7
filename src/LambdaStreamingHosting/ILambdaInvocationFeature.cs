namespace LambdaStreamingHosting;

/// <summary>
/// The Lambda invocation behind the current request, available from <c>HttpContext.Features</c> (or
/// <see cref="LambdaHttpContextExtensions.GetLambdaInvocation"/>) when the app runs inside Lambda. Like the other
/// request features (and the <c>HttpContext</c>, as on Kestrel), the object is reused for later invocations: read
/// it during the request it belongs to.
/// </summary>
public interface ILambdaInvocationFeature
{
    /// <summary>The invocation id (<c>Lambda-Runtime-Aws-Request-Id</c>); also the request's <c>TraceIdentifier</c>.</summary>
    string AwsRequestId { get; }

    /// <summary>The instant Lambda stops the invocation (<c>Lambda-Runtime-Deadline-Ms</c>).</summary>
    DateTimeOffset Deadline { get; }

    /// <summary>The time left until <see cref="Deadline"/>, never negative.</summary>
    TimeSpan RemainingTime { get; }

    /// <summary>The ARN used to invoke the function (<c>Lambda-Runtime-Invoked-Function-Arn</c>).</summary>
    string InvokedFunctionArn { get; }

    /// <summary>The X-Ray trace header (<c>Lambda-Runtime-Trace-Id</c>), when Lambda sent one.</summary>
    string? TraceId { get; }

    /// <summary>The client context JSON (<c>Lambda-Runtime-Client-Context</c>), when supplied.</summary>
    string? ClientContext { get; }

    /// <summary>The Cognito identity JSON (<c>Lambda-Runtime-Cognito-Identity</c>), when supplied.</summary>
    string? CognitoIdentity { get; }

    /// <summary>The tenant id of a tenant-isolated function (<c>Lambda-Runtime-Aws-Tenant-Id</c>), when supplied.</summary>
    string? TenantId { get; }

    /// <summary>The front end the event came from.</summary>
    LambdaEventSource EventSource { get; }

    /// <summary>
    /// The raw event bytes (UTF-8 JSON) exactly as received from the Runtime API. The memory is valid only during the
    /// invocation (until the response completed, its <c>OnCompleted</c> callbacks ran and the request was disposed):
    /// the server reads the next event into the same buffer, so copy it (<c>RawEvent.ToArray()</c>) to keep it longer.
    /// </summary>
    ReadOnlyMemory<byte> RawEvent { get; }

    /// <summary>
    /// Whether this is a warm-up request the server runs itself before a SnapStart snapshot (or during init, see
    /// <see cref="LambdaWarmUpOptions"/>), not an invocation: its answer goes nowhere. Skip side effects that must not
    /// happen for it (writes, calls to other services that cost money) while still running the code a real request runs.
    /// </summary>
    bool IsWarmUp => false;
}
