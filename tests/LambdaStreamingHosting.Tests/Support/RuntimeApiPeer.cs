using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>
/// The Runtime API end of a loopback connection, for tests of the client's wire types: a listener on 127.0.0.1 port 0
/// whose accepted connections (<see cref="PeerConnection"/>) have the head of their first request read, and nothing
/// else until the test says so (which is how a send is made to block), and are answered with raw HTTP/1.1.
/// </summary>
internal sealed class RuntimeApiPeer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public RuntimeApiPeer() => _listener.Start();

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public RuntimeApiEndpoint Endpoint => RuntimeApiEndpoint.Parse($"127.0.0.1:{Port}");

    /// <summary>A new client of this peer, whose first connection this peer is already waiting to accept.</summary>
    public PeerClient NewClient() => new(this);

    /// <summary>Accepts the next connection the client opens.</summary>
    public Task<Socket> AcceptAsync() => _listener.AcceptSocketAsync();

    /// <summary>Accepts the next connection the client opens and reads the head of the first request on it.</summary>
    public Task<PeerConnection> AcceptRequestAsync() => PeerConnection.ReadFirstRequestAsync(AcceptAsync());

    public void Dispose() => _listener.Dispose();

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

    /// <summary>The <c>Content-Length</c> of a request head.</summary>
    public static int ContentLength(string head) => int.Parse(Headers(head)["Content-Length"], CultureInfo.InvariantCulture);

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
