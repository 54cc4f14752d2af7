namespace StreamingApi.Streaming;

/// <summary>One entry of the <c>/feed</c> JSON array.</summary>
/// <param name="Sequence">Position in the feed, from 1.</param>
/// <param name="Time">When the entry was produced.</param>
/// <param name="Message">The entry's text.</param>
public sealed record FeedItem(int Sequence, DateTimeOffset Time, string Message);
