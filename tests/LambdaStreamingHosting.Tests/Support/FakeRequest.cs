using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>A request received by <see cref="FakeRuntimeApi"/>: its head, then its body (plain or chunked with trailers).</summary>
public sealed class FakeRequest
{
    private FakeRequest(string method, string path, Dictionary<string, string> headers)
    {
        Method = method;
        Path = path;
        Headers = headers;
    }

    public string Method { get; }

    public string Path { get; }

    public Dictionary<string, string> Headers { get; }

    /// <summary>The whole body (Content-Length requests; chunked requests keep it in their <see cref="FakeAnswer"/>).</summary>
    public byte[] Body { get; private set; } = [];

    public string BodyText => Encoding.UTF8.GetString(Body);

    internal static async Task<FakeRequest?> ReadHeadAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var end = IndexOf(buffer, "\r\n\r\n"u8);
            if (end >= 0)
            {
                var text = Encoding.Latin1.GetString(buffer.Slice(0, end));
                reader.AdvanceTo(buffer.GetPosition(end + 4));
                var lines = text.Split("\r\n");
                var requestLine = lines[0].Split(' ');
                if (requestLine.Length != 3 || requestLine[2] != "HTTP/1.1")
                {
                    throw new InvalidDataException($"Bad request line: {lines[0]}");
                }

                var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var line in lines.Skip(1))
                {
                    var colon = line.IndexOf(':', StringComparison.Ordinal);
                    headers[line[..colon]] = line[(colon + 1)..].Trim();
                }

                return new FakeRequest(requestLine[0], requestLine[1], headers);
            }

            if (result.IsCompleted)
            {
                return null;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    internal async Task ReadBodyAsync(PipeReader reader, FakeAnswer? answer, CancellationToken cancellationToken)
    {
        if (Headers.TryGetValue("Transfer-Encoding", out var te) && te == "chunked")
        {
            await ReadChunkedAsync(reader, answer ?? new FakeAnswer(this, "ignored"), cancellationToken);
            return;
        }

        var length = Headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl, CultureInfo.InvariantCulture) : 0;
        if (length > 0)
        {
            var result = await reader.ReadAtLeastAsync(length, cancellationToken);
            Body = result.Buffer.Slice(0, length).ToArray();
            reader.AdvanceTo(result.Buffer.GetPosition(length));
        }
    }

    private static async Task ReadChunkedAsync(PipeReader reader, FakeAnswer answer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var sizeLine = await ReadLineAsync(reader, answer, cancellationToken);
            var size = int.Parse(sizeLine, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                while (true)
                {
                    var trailer = await ReadLineAsync(reader, answer, cancellationToken);
                    if (trailer.Length == 0)
                    {
                        return;
                    }

                    var colon = trailer.IndexOf(':', StringComparison.Ordinal);
                    answer.Trailers[trailer[..colon]] = trailer[(colon + 1)..].Trim();
                }
            }

            if (answer.DiscardBody)
            {
                await SkipAsync(reader, size, cancellationToken);
                answer.OnDiscarded(size);
                _ = await ReadLineAsync(reader, answer, cancellationToken);
                continue;
            }

            var result = await reader.ReadAtLeastAsync(size + 2, cancellationToken);
            if (result.Buffer.Length < size + 2)
            {
                throw new EndOfStreamException("Chunk cut short.");
            }

            var chunk = result.Buffer.Slice(0, size + 2).ToArray();
            reader.AdvanceTo(result.Buffer.GetPosition(size + 2));
            if (chunk[size] != '\r' || chunk[size + 1] != '\n')
            {
                throw new InvalidDataException("Chunk data not followed by CRLF.");
            }

            answer.RecordRaw(chunk);
            answer.OnChunk(chunk.AsSpan(0, size).ToArray());
        }
    }

    private static async Task SkipAsync(PipeReader reader, long count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var take = Math.Min(count, result.Buffer.Length);
            reader.AdvanceTo(result.Buffer.GetPosition(take));
            count -= take;
            if (count > 0 && result.IsCompleted)
            {
                throw new EndOfStreamException("Chunk cut short.");
            }
        }
    }

    private static async Task<string> ReadLineAsync(PipeReader reader, FakeAnswer answer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var end = IndexOf(result.Buffer, "\r\n"u8);
            if (end >= 0)
            {
                var line = result.Buffer.Slice(0, end + 2).ToArray();
                reader.AdvanceTo(result.Buffer.GetPosition(end + 2));
                answer.RecordRaw(line);
                return Encoding.ASCII.GetString(line, 0, end);
            }

            if (result.IsCompleted)
            {
                throw new EndOfStreamException("Connection closed inside a chunked body.");
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static int IndexOf(ReadOnlySequence<byte> buffer, ReadOnlySpan<byte> value)
    {
        var bytes = buffer.IsSingleSegment ? buffer.FirstSpan : buffer.ToArray();
        return bytes.IndexOf(value);
    }
}
