using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>
/// Sends hand-written HTTP/1.1 requests over a loopback socket and reads the reply (Content-Length or chunked body), so
/// a test controls every byte a server parses: no client adds, reorders or refuses a header.
/// </summary>
internal static class RawHttp
{
    /// <summary>A reply: status, header lines as received, and the body (chunks joined).</summary>
    public sealed record Reply(int Status, IReadOnlyList<string> HeaderLines, string Body);

    /// <summary>The request <c>METHOD target HTTP/1.1</c> with one <c>name: value</c> line per header, as UTF-8 bytes.</summary>
    public static byte[] Request(string method, string target, IEnumerable<(string Name, string Value)> headers)
    {
        var text = new StringBuilder().Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n");
        foreach (var (name, value) in headers)
        {
            text.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        return Encoding.UTF8.GetBytes(text.Append("\r\n").ToString());
    }

    public static async Task<Reply> SendAsync(int port, byte[] request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TestApp.Timeout);
        await socket.SendAsync(request.AsMemory()).AsTask().WaitAsync(TestApp.Timeout);
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            if (TryParse(received.ToArray(), out var reply))
            {
                return reply;
            }

            var read = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(TestApp.Timeout);
            if (read == 0)
            {
                throw new InvalidDataException($"The server closed the connection before a whole reply: {Encoding.Latin1.GetString(received.ToArray())}");
            }

            received.Write(buffer, 0, read);
        }
    }

    private static bool TryParse(byte[] bytes, out Reply reply)
    {
        reply = null!;
        var text = Encoding.Latin1.GetString(bytes);
        var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (headEnd < 0)
        {
            return false;
        }

        var lines = text[..headEnd].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headerLines = lines.Skip(1).ToList();
        var rest = text[(headEnd + 4)..];
        var length = headerLines.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        if (length is not null)
        {
            var count = int.Parse(length["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture);
            if (rest.Length < count)
            {
                return false;
            }

            reply = new Reply(status, headerLines, rest[..count]);
            return true;
        }

        // Chunked: the body is complete at the last chunk.
        var body = new StringBuilder();
        var position = 0;
        while (true)
        {
            var sizeEnd = rest.IndexOf("\r\n", position, StringComparison.Ordinal);
            if (sizeEnd < 0)
            {
                return false;
            }

            var size = int.Parse(rest[position..sizeEnd], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                if (!rest.AsSpan(sizeEnd).StartsWith("\r\n\r\n"))
                {
                    return false;
                }

                reply = new Reply(status, headerLines, body.ToString());
                return true;
            }

            if (rest.Length < sizeEnd + 2 + size + 2)
            {
                return false;
            }

            body.Append(rest, sizeEnd + 2, size);
            position = sizeEnd + 2 + size + 2;
        }
    }
}
