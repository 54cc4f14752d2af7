namespace LambdaStreamingHosting.Testing;

/// <summary>
/// Thrown by <see cref="LambdaEmulator.DisposeAsync"/> in strict mode when the function broke the Lambda protocol
/// during the emulator's life. The message lists every violation.
/// </summary>
public sealed class LambdaProtocolViolationException : Exception
{
    /// <summary>Creates the exception for a list of violations.</summary>
    /// <param name="violations">The violations, one message each.</param>
    public LambdaProtocolViolationException(IReadOnlyList<string> violations)
        : base(FormatMessage(violations)) => Violations = violations;

    /// <summary>Creates the exception with no violations listed.</summary>
    public LambdaProtocolViolationException() : this([])
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public LambdaProtocolViolationException(string message) : base(message) => Violations = [message];

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public LambdaProtocolViolationException(string message, Exception innerException)
        : base(message, innerException) => Violations = [message];

    /// <summary>The violations, one message each.</summary>
    public IReadOnlyList<string> Violations { get; }

    private static string FormatMessage(IReadOnlyList<string> violations) =>
        violations is null || violations.Count == 0
            ? "The function broke the Lambda protocol."
            : $"The function broke the Lambda protocol {violations.Count} time(s):{Environment.NewLine}- " +
              string.Join(Environment.NewLine + "- ", violations);
}
