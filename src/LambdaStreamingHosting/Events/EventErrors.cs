namespace LambdaStreamingHosting.Events;

/// <summary>
/// The Lambda <c>errorType</c> of each way an event can be unusable (documented in <c>docs/errors.md</c>). They are
/// stable: callers and alarms may match on them.
/// </summary>
internal static class EventErrors
{
    /// <summary>The event bytes are not JSON.</summary>
    public const string InvalidJson = "LambdaStreaming.InvalidEventJson";

    /// <summary>A field has the wrong JSON type, or a required field is missing.</summary>
    public const string InvalidField = "LambdaStreaming.InvalidEventField";

    /// <summary>A body marked <c>isBase64Encoded</c> is not base64.</summary>
    public const string InvalidBase64 = "LambdaStreaming.InvalidEventBase64";

    /// <summary>The event is JSON but not an HTTP event of any front end we understand.</summary>
    public const string UnknownShape = "LambdaStreaming.UnknownEventShape";

    /// <summary>The options pin an event source, and the event came from another.</summary>
    public const string SourceMismatch = "LambdaStreaming.EventSourceMismatch";

    /// <summary>A required field is absent.</summary>
    public static InvalidEventException MissingField(string jsonPath, string what) =>
        new(InvalidField, $"The event has no {jsonPath}, which {what} must have.");
}
