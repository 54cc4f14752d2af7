namespace LambdaStreamingHosting.Testing;

/// <summary>One entry of the emulator's invocation log: what the client sent and what it got back.</summary>
public sealed class LambdaInvocationRecord
{
    /// <summary>The invocation id (<c>Lambda-Runtime-Aws-Request-Id</c>).</summary>
    public required string RequestId { get; init; }

    /// <summary>
    /// The <c>Lambda-Runtime-Invocation-Id</c> the function got with the event, new with every delivery;
    /// <see langword="null"/> when the event was never delivered.
    /// </summary>
    public string? InvocationId { get; init; }

    /// <summary>
    /// Whether the function answered this invocation without sending its <see cref="InvocationId"/> back in
    /// <c>Lambda-Runtime-Invocation-Id</c>. Lambda accepts such an answer (older runtime clients send none), but
    /// then cannot refuse it when it comes late, after a newer delivery took the request id.
    /// </summary>
    public bool AnsweredWithoutInvocationId { get; init; }

    /// <summary>The front end the request came through.</summary>
    public required LambdaFrontDoor FrontDoor { get; init; }

    /// <summary>The client's HTTP method.</summary>
    public required string Method { get; init; }

    /// <summary>The client's request target (path and query, as sent).</summary>
    public required string Target { get; init; }

    /// <summary>When the emulator received the client's request.</summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>The status code the client received; 0 when its connection was cut before a status was sent.</summary>
    public int StatusCode { get; init; }

    /// <summary>Size of the event given to the function, in bytes (0 when the event was refused).</summary>
    public long EventBytes { get; init; }

    /// <summary>Response body bytes sent to the client.</summary>
    public long ResponseBytes { get; init; }

    /// <summary>Whether the function streamed its answer.</summary>
    public bool Streamed { get; init; }

    /// <summary>From the client's request to the first response body byte sent to it; <see langword="null"/> when no body byte was sent.</summary>
    public TimeSpan? TimeToFirstByte { get; init; }

    /// <summary>From the client's request to the end of the response.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>
    /// Why the invocation failed, <see langword="null"/> on success: the function's error type (from
    /// <c>/error</c> or the error trailer), or one of the failures the emulator detects itself, such as
    /// <c>Sandbox.Timedout</c>, <c>Runtime.ExitError</c>, <c>Runtime.ProtocolViolation</c> or
    /// <c>Function.ResponseSizeTooLarge</c> (<c>docs/errors.md</c> lists them all).
    /// </summary>
    public string? ErrorType { get; init; }

    /// <summary>Details of the failure (the function's error message or what the emulator saw), when any.</summary>
    public string? ErrorMessage { get; init; }

    /// <summary>Whether the client's connection was aborted (so truncation is visible to it).</summary>
    public bool ClientAborted { get; init; }

    /// <summary>Whether the client went away before the response ended.</summary>
    public bool ClientDisconnected { get; init; }

    /// <summary>Protocol violations the function committed during this invocation (see <see cref="LambdaEmulatorOptions.Strict"/>).</summary>
    public IReadOnlyList<string> ProtocolViolations { get; init; } = [];

    /// <inheritdoc />
    public override string ToString() =>
        $"{RequestId} {FrontDoor} {Method} {Target} -> {StatusCode} {ResponseBytes} B in {Duration.TotalMilliseconds:0} ms" +
        (TimeToFirstByte is { } ttfb ? $" (first byte {ttfb.TotalMilliseconds:0} ms)" : "") +
        (ErrorType is null ? "" : $" [{ErrorType}: {ErrorMessage}]");
}
