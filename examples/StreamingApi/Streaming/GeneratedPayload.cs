using System.Buffers;

namespace StreamingApi.Streaming;

/// <summary>The bytes of <c>/download</c>: a repeating pattern, so a client can check every byte without a file.</summary>
public static class GeneratedPayload
{
    /// <summary>The pattern's period; a prime, so chunk boundaries never line up with it.</summary>
    public const int Period = 251;

    private const int ChunkSize = 64 * 1024;

    /// <summary>The byte at <paramref name="offset"/>.</summary>
    public static byte ByteAt(long offset) => (byte)(offset % Period);

    /// <summary>Writes <paramref name="length"/> bytes of the pattern, flushing each 64 KiB chunk.</summary>
    public static async Task WriteAsync(Stream destination, long length, CancellationToken cancellationToken)
    {
        var chunk = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            for (long written = 0; written < length;)
            {
                var count = (int)Math.Min(ChunkSize, length - written);
                for (var i = 0; i < count; i++)
                {
                    chunk[i] = ByteAt(written + i);
                }

                await destination.WriteAsync(chunk.AsMemory(0, count), cancellationToken);
                await destination.FlushAsync(cancellationToken);
                written += count;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}
