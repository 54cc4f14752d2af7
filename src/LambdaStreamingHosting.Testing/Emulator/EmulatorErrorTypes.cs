namespace LambdaStreamingHosting.Testing;

/// <summary>
/// The error types the emulator records for failures it detects itself (<see cref="LambdaInvocationRecord.ErrorType"/>,
/// the <c>x-lambda-emulator-error</c> header), named as Lambda and its front ends name them where they have a name.
/// An error the function reports keeps the function's own type. The emulator shares no code with the server, so these
/// are its own; <c>docs/errors.md</c> lists them.
/// </summary>
internal static class EmulatorErrorTypes
{
    /// <summary>The invocation's time ran out, or a queued event was not asked for in time; the environment is reset.</summary>
    public const string Timeout = "Sandbox.Timedout";

    /// <summary>The function's connection closed (its process exited) before its answer ended; the environment is reset.</summary>
    public const string ExitError = "Runtime.ExitError";

    /// <summary>The function broke the Runtime API's protocol (strict mode, or a violation Lambda itself refuses).</summary>
    public const string ProtocolViolation = "Runtime.ProtocolViolation";

    /// <summary>The function streamed its answer to a front end that expects one buffered document.</summary>
    public const string InvalidResponseMode = "Runtime.InvalidResponseMode";

    /// <summary>The answer was larger than Lambda accepts (buffered or streamed).</summary>
    public const string ResponseSizeTooLarge = "Function.ResponseSizeTooLarge";

    /// <summary>The function reported an error without naming its type.</summary>
    public const string Unknown = "Runtime.Unknown";

    /// <summary>The front door refused the request: its body, or the event it makes, is over Lambda's limit (413).</summary>
    public const string RequestEntityTooLarge = "RequestEntityTooLarge";

    /// <summary>The REST API door refused a path outside its stage (403).</summary>
    public const string Forbidden = "Forbidden";

    /// <summary>The HTTP API door refused a path outside its stage (404).</summary>
    public const string NotFound = "NotFound";

    /// <summary>SnapStart: the function failed after the restore from its snapshot (it posted <c>/runtime/restore/error</c>); the environment is reset.</summary>
    public const string SnapStartException = "SnapStartException";

    /// <summary>SnapStart: the function did not ask for its event within <c>RestoreTimeout</c> (10 s) of the restore; the environment is reset.</summary>
    public const string SnapStartTimeoutException = "SnapStartTimeoutException";

    /// <summary>The emulator stopped before the invocation ended.</summary>
    public const string Stopped = "Emulator.Stopped";

    /// <summary>The emulator itself failed while reading the answer (a defect of the emulator).</summary>
    public const string InternalError = "Emulator.InternalError";
}
