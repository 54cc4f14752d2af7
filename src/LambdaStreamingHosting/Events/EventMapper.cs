namespace LambdaStreamingHosting.Events;

/// <summary>Turns an invocation's event bytes into a <see cref="LambdaHttpRequest"/>.</summary>
internal static class EventMapper
{
    /// <summary>
    /// Detects the event's source (unless <paramref name="options"/> pins one) and maps it.
    /// </summary>
    /// <exception cref="InvalidEventException">The event is not valid JSON, has wrong field types, bad base64, or no known shape.</exception>
    public static LambdaHttpRequest Map(ReadOnlyMemory<byte> eventJson, LambdaStreamingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ = eventJson;
        throw new InvalidEventException("LambdaStreaming.NotImplemented", "Event mapping is not implemented yet.");
    }
}
