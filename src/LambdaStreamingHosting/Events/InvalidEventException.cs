namespace LambdaStreamingHosting.Events;

/// <summary>
/// An invocation's event could not be turned into a request. The server answers the invocation with a Lambda error
/// of <see cref="ErrorType"/> and keeps serving.
/// </summary>
internal sealed class InvalidEventException : Exception
{
    public InvalidEventException(string errorType, string message, Exception? innerException = null)
        : base(message, innerException) => ErrorType = errorType;

    /// <summary>The Lambda <c>errorType</c>, e.g. <c>LambdaStreaming.InvalidEventJson</c>.</summary>
    public string ErrorType { get; }
}
