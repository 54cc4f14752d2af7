using System.Text;

namespace StreamingApi.Tests;

/// <summary>Bounded waits, so a response that does not stream fails the test instead of hanging it.</summary>
internal static class Wait
{
    /// <summary>Generous: only reached when something is broken.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Reads from <paramref name="stream"/> until the text read so far contains <paramref name="marker"/>.</summary>
    public static async Task<string> ReadUntilAsync(Stream stream, StringBuilder text, string marker)
    {
        var buffer = new byte[4096];
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
        while (!text.ToString().Contains(marker, StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(Timeout);
            if (read == 0)
            {
                throw new InvalidOperationException($"The response ended before '{marker}' arrived. Received: {text}");
            }

            text.Append(chars, 0, decoder.GetChars(buffer, 0, read, chars, 0));
        }

        return text.ToString();
    }
}
