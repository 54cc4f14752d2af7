using System.Text;

namespace LambdaStreamingHosting.Buffers;

/// <summary>Searches in ASCII bytes that the parsers share (header values of a Runtime API reply, an event's domain name).</summary>
internal static class AsciiText
{
    /// <summary>Whether <paramref name="text"/> contains <paramref name="word"/>, ASCII letters compared case-insensitively.</summary>
    public static bool ContainsIgnoreCase(ReadOnlySpan<byte> text, ReadOnlySpan<byte> word)
    {
        for (var i = 0; i + word.Length <= text.Length; i++)
        {
            if (Ascii.EqualsIgnoreCase(text.Slice(i, word.Length), word))
            {
                return true;
            }
        }

        return false;
    }
}
