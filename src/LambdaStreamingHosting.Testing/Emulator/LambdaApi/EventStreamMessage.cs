using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// One message of the AWS event-stream encoding (<c>application/vnd.amazon.eventstream</c>), as Lambda's
/// <c>InvokeWithResponseStream</c> answers: a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes),
/// the headers (each a 1-byte name length, the name, type 7 = string, a 2-byte value length, the value), the payload,
/// and the CRC32 of everything before it. All integers are big-endian; the checksum is CRC-32 (IEEE 802.3).
/// </summary>
internal static class EventStreamMessage
{
    private const byte StringHeaderType = 7;
    private const int PreludeBytes = 12;
    private const int ChecksumBytes = 4;

    /// <summary>Writes an event message (<c>:message-type</c> <c>event</c>) with the event type, content type and payload.</summary>
    public static void WriteEvent(IBufferWriter<byte> output, string eventType, string contentType, ReadOnlySequence<byte> payload)
    {
        Span<(string Name, string Value)> headers =
        [
            (":event-type", eventType),
            (":content-type", contentType),
            (":message-type", "event"),
        ];
        var headersLength = 0;
        foreach (var (name, value) in headers)
        {
            headersLength += 1 + Encoding.ASCII.GetByteCount(name) + 1 + 2 + Encoding.UTF8.GetByteCount(value);
        }

        var totalLength = checked(PreludeBytes + headersLength + (int)payload.Length + ChecksumBytes);
        var message = output.GetSpan(totalLength)[..totalLength];
        BinaryPrimitives.WriteInt32BigEndian(message, totalLength);
        BinaryPrimitives.WriteInt32BigEndian(message[4..], headersLength);
        BinaryPrimitives.WriteUInt32BigEndian(message[8..], Crc32.Compute(message[..8]));
        var at = PreludeBytes;
        foreach (var (name, value) in headers)
        {
            message[at++] = (byte)Encoding.ASCII.GetByteCount(name);
            at += Encoding.ASCII.GetBytes(name, message[at..]);
            message[at++] = StringHeaderType;
            var valueLength = Encoding.UTF8.GetBytes(value, message[(at + 2)..]);
            BinaryPrimitives.WriteUInt16BigEndian(message[at..], (ushort)valueLength);
            at += 2 + valueLength;
        }

        payload.CopyTo(message[at..]);
        at += (int)payload.Length;
        BinaryPrimitives.WriteUInt32BigEndian(message[at..], Crc32.Compute(message[..at]));
        output.Advance(totalLength);
    }

    /// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as the event-stream encoding checks it.</summary>
    private static class Crc32
    {
        private static readonly uint[] Table = BuildTable();

        public static uint Compute(ReadOnlySpan<byte> data)
        {
            var crc = 0xFFFFFFFFu;
            foreach (var b in data)
            {
                crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            }

            return ~crc;
        }

        private static uint[] BuildTable()
        {
            var table = new uint[256];
            for (uint i = 0; i < 256; i++)
            {
                var entry = i;
                for (var bit = 0; bit < 8; bit++)
                {
                    entry = (entry & 1) != 0 ? 0xEDB88320u ^ (entry >> 1) : entry >> 1;
                }

                table[i] = entry;
            }

            return table;
        }
    }
}
