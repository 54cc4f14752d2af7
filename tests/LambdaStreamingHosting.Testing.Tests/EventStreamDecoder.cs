using System.Buffers.Binary;
using System.Text;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>
/// Reads AWS event-stream messages (<c>application/vnd.amazon.eventstream</c>) one at a time from a response body,
/// checking both checksums (CRC-32, computed bit by bit here, independently of the emulator's table).
/// </summary>
internal sealed class EventStreamDecoder(Stream stream)
{
    public sealed record Message(IReadOnlyDictionary<string, string> Headers, byte[] Payload)
    {
        public string EventType => Headers[":event-type"];

        public string Text => Encoding.UTF8.GetString(Payload);
    }

    /// <summary>The next message, or null at the end of the stream.</summary>
    public async Task<Message?> NextAsync()
    {
        var prelude = new byte[12];
        var first = await stream.ReadAsync(prelude.AsMemory(0, 1)).AsTask().WaitAsync(TestSupport.Patience);
        if (first == 0)
        {
            return null;
        }

        await stream.ReadExactlyAsync(prelude.AsMemory(1)).AsTask().WaitAsync(TestSupport.Patience);
        var total = BinaryPrimitives.ReadInt32BigEndian(prelude);
        var headersLength = BinaryPrimitives.ReadInt32BigEndian(prelude.AsSpan(4));
        Assert.Equal(Crc32(prelude.AsSpan(0, 8)), BinaryPrimitives.ReadUInt32BigEndian(prelude.AsSpan(8)));
        var message = new byte[total];
        prelude.CopyTo(message, 0);
        await stream.ReadExactlyAsync(message.AsMemory(12)).AsTask().WaitAsync(TestSupport.Patience);
        Assert.Equal(Crc32(message.AsSpan(0, total - 4)), BinaryPrimitives.ReadUInt32BigEndian(message.AsSpan(total - 4)));

        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        var at = 12;
        while (at < 12 + headersLength)
        {
            var name = Encoding.ASCII.GetString(message, at + 1, message[at]);
            at += 1 + message[at];
            Assert.Equal(7, message[at]); // string
            var length = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(at + 1));
            headers[name] = Encoding.UTF8.GetString(message, at + 3, length);
            at += 3 + length;
        }

        return new Message(headers, message[(12 + headersLength)..(total - 4)]);
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
            }
        }

        return ~crc;
    }
}
