using Microsoft.Extensions.Primitives;

namespace LambdaStreamingHosting.Events;

/// <summary>Matches a response's <c>Content-Type</c> against <see cref="LambdaStreamingOptions.TextContentTypes"/>.</summary>
internal static class ContentTypes
{
    /// <summary>
    /// Whether the media type (parameters ignored, case-insensitive) matches an entry: exact (<c>application/json</c>),
    /// type wildcard (<c>text/*</c>), suffix (<c>*+json</c>) or <c>*/*</c> (every content type). No content type is not text.
    /// </summary>
    public static bool IsText(StringValues contentType, IList<string> textContentTypes)
    {
        var mediaType = contentType.ToString().AsSpan();
        var semicolon = mediaType.IndexOf(';');
        if (semicolon >= 0)
        {
            mediaType = mediaType[..semicolon];
        }

        mediaType = mediaType.Trim();
        if (mediaType.IsEmpty)
        {
            return false;
        }

        // Indexed: a foreach over the IList would box its enumerator on every answer.
        for (var i = 0; i < textContentTypes.Count; i++)
        {
            if (Matches(mediaType, textContentTypes[i]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the media type (parameters ignored, case-insensitive) is <c>text/event-stream</c>: server-sent events.</summary>
    public static bool IsEventStream(StringValues contentType)
    {
        if (contentType.Count != 1 || contentType[0] is not { } value)
        {
            return false;
        }

        var mediaType = value.AsSpan();
        var semicolon = mediaType.IndexOf(';');
        if (semicolon >= 0)
        {
            mediaType = mediaType[..semicolon];
        }

        return mediaType.Trim().Equals("text/event-stream", StringComparison.OrdinalIgnoreCase);
    }

    private static bool Matches(ReadOnlySpan<char> mediaType, string entry)
    {
        if (entry == "*/*")
        {
            return true;
        }

        if (entry.StartsWith("*+", StringComparison.Ordinal))
        {
            return mediaType.EndsWith(entry.AsSpan(1), StringComparison.OrdinalIgnoreCase);
        }

        if (entry.EndsWith("/*", StringComparison.Ordinal))
        {
            return mediaType.StartsWith(entry.AsSpan(0, entry.Length - 1), StringComparison.OrdinalIgnoreCase);
        }

        return mediaType.Equals(entry, StringComparison.OrdinalIgnoreCase);
    }
}
