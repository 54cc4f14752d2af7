using System.Net;
using System.Net.Sockets;
using System.Text;
using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>
/// The Runtime API end of a loopback connection, for tests of the client's wire types: a listener on 127.0.0.1 port 0
/// whose accepted sockets the test reads byte by byte (nothing is read until the test says so, which is how a send is
/// made to block) and answers with raw HTTP/1.1.
/// </summary>
internal sealed class RuntimeApiPeer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public RuntimeApiPeer() => _listener.Start();

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public RuntimeApiEndpoint Endpoint => RuntimeApiEndpoint.Parse($"127.0.0.1:{Port}");

    /// <summary>Accepts the next connection the client opens.</summary>
    public Task<Socket> AcceptAsync() => _listener.AcceptSocketAsync();

    public void Dispose() => _listener.Dispose();

    /// <summary>Reads a request head up to its blank line (one byte at a time, so nothing after it is consumed).</summary>
    public static async Task<string> ReadHeadAsync(Socket socket)
    {
        var received = new StringBuilder();
        var buffer = new byte[1];
        while (!received.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().Within();
            Assert.True(read > 0, $"the connection closed before the request head ended: {received}");
            received.Append((char)buffer[0]);
        }

        return received.ToString();
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes.</summary>
    public static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        var bytes = new byte[count];
        var done = 0;
        while (done < count)
        {
            var read = await socket.ReceiveAsync(bytes.AsMemory(done)).AsTask().Within();
            Assert.True(read > 0, $"the connection closed after {done} of {count} bytes");
            done += read;
        }

        return bytes;
    }

    /// <summary>Reads until the bytes received end with <paramref name="end"/>; returns them all.</summary>
    public static async Task<byte[]> ReadUntilAsync(Socket socket, byte[] end)
    {
        var received = new MemoryStream();
        var buffer = new byte[256 * 1024];
        while (!(received.Length >= end.Length && received.GetBuffer().AsSpan((int)received.Length - end.Length, end.Length).SequenceEqual(end)))
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().Within();
            Assert.True(read > 0, $"the connection closed after {received.Length} bytes, before the expected end");
            received.Write(buffer, 0, read);
        }

        return received.ToArray();
    }

    /// <summary>Reads until the peer closes its side; returns everything received.</summary>
    public static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().Within();
            }
            catch (SocketException)
            {
                return received.ToArray(); // reset: closed as well
            }

            if (read == 0)
            {
                return received.ToArray();
            }

            received.Write(buffer, 0, read);
        }
    }

    /// <summary>Sends <paramref name="text"/> as ASCII.</summary>
    public static Task SendAsync(Socket socket, string text) =>
        socket.SendAsync(Encoding.ASCII.GetBytes(text).AsMemory()).AsTask().Within();

    /// <summary>The <c>202 {"status":"OK"}</c> acknowledgement.</summary>
    public const string Accepted = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}";

    /// <summary>A reply with <paramref name="status"/> and a JSON body; with <paramref name="close"/>, <c>Connection: close</c>.</summary>
    public static string Reply(int status, string body, bool close = false) =>
        $"HTTP/1.1 {status} Status\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n{(close ? "Connection: close\r\n" : "")}\r\n{body}";

    /// <summary>The header lines of a request head (without the request line), as name → value.</summary>
    public static Dictionary<string, string> Headers(string head) =>
        head.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(line => line.Split(':', 2))
            .ToDictionary(parts => parts[0], parts => parts[1].Trim(), StringComparer.OrdinalIgnoreCase);

    /// <summary>Decodes a chunked body (each chunk's size line, data and CRLF) up to its last chunk; returns the data of each chunk.</summary>
    public static List<byte[]> Chunks(ReadOnlySpan<byte> body, out int end)
    {
        var chunks = new List<byte[]>();
        var at = 0;
        while (true)
        {
            var lineEnd = at + body[at..].IndexOf("\r\n"u8);
            var size = Convert.ToInt32(Encoding.ASCII.GetString(body[at..lineEnd]), 16);
            at = lineEnd + 2;
            if (size == 0)
            {
                end = at;
                return chunks;
            }

            chunks.Add(body.Slice(at, size).ToArray());
            Assert.True(body.Slice(at + size, 2).SequenceEqual("\r\n"u8), "a chunk's data does not end with CRLF");
            at += size + 2;
        }
    }
}
