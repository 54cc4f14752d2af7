namespace LambdaStreamingHosting.Events;

/// <summary>
/// An invocation's event could not be turned into a request. The server answers the invocation with a Lambda error
/// of <see cref="ErrorType"/> and keeps serving.
/// </summary>
internal sealed class InvalidEventException : Exception
{
    public InvalidEventException(string errorType, string message, Exception? innerException = null)
        : base(message, innerException) => ErrorType = errorType;

    /// <summary>The Lambda <c>errorType</c>, one of <see cref="LambdaErrorTypes"/>.</summary>
    public string ErrorType { get; }

    /// <summary>A required field is absent.</summary>
    public static InvalidEventException MissingField(string jsonPath, string what) =>
        new(LambdaErrorTypes.InvalidEventField, $"The event has no {jsonPath}, which {what} must have.");
}
