using System.Globalization;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>One event handed out by <c>GET /runtime/invocation/next</c>: its headers and raw event bytes.</summary>
internal sealed class Invocation
{
    public required string RequestId { get; init; }

    /// <summary>When Lambda stops the invocation; <see cref="DateTimeOffset.MaxValue"/> when the header is missing.</summary>
    public required DateTimeOffset Deadline { get; init; }

    public string InvokedFunctionArn { get; init; } = "";

    public string? TraceId { get; init; }

    public string? ClientContext { get; init; }

    public string? CognitoIdentity { get; init; }

    public string? TenantId { get; init; }

    public required byte[] Event { get; init; }

    /// <summary>Reads an invocation from a <c>/next</c> reply.</summary>
    /// <exception cref="RuntimeApiFatalException">The reply has no request id: nothing could answer it.</exception>
    public static Invocation FromReply(RuntimeApiReply reply)
    {
        var requestId = reply.Header("Lambda-Runtime-Aws-Request-Id");
        if (string.IsNullOrWhiteSpace(requestId))
        {
            throw new RuntimeApiFatalException("The Runtime API handed out an invocation without a Lambda-Runtime-Aws-Request-Id header.");
        }

        var deadline = long.TryParse(reply.Header("Lambda-Runtime-Deadline-Ms"), NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            && ms <= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
            : DateTimeOffset.MaxValue;
        return new Invocation
        {
            RequestId = requestId,
            Deadline = deadline,
            InvokedFunctionArn = reply.Header("Lambda-Runtime-Invoked-Function-Arn") ?? "",
            TraceId = reply.Header("Lambda-Runtime-Trace-Id"),
            ClientContext = reply.Header("Lambda-Runtime-Client-Context"),
            CognitoIdentity = reply.Header("Lambda-Runtime-Cognito-Identity"),
            TenantId = reply.Header("Lambda-Runtime-Aws-Tenant-Id"),
            Event = reply.Body,
        };
    }
}
