using System.Net.Sockets;
using System.Text;
using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>
/// A connection a <see cref="RuntimeApiPeer"/> accepted, with the head of the first request on it read (one byte at a
/// time, so nothing after it is consumed): the test reads the rest, byte for byte, only when it says so.
/// </summary>
internal sealed class PeerConnection : IDisposable
{
    private PeerConnection(Socket socket, string head)
    {
        Socket = socket;
        Head = head;
    }

    public Socket Socket { get; }

    /// <summary>The head of the first request on the connection, up to and with its blank line.</summary>
    public string Head { get; }

    /// <summary>The header lines of <see cref="Head"/>, as name → value.</summary>
    public Dictionary<string, string> Headers => RuntimeApiPeer.Headers(Head);

    public void Dispose() => Socket.Dispose();

    /// <summary>Waits for <paramref name="accept"/>, then reads the head of the first request on the accepted connection.</summary>
    public static async Task<PeerConnection> ReadFirstRequestAsync(Task<Socket> accept)
    {
        var socket = await accept;
        try
        {
            return new PeerConnection(socket, await ReadHeadAsync(socket));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads the head of the next request on the connection, up to its blank line.</summary>
    public Task<string> ReadHeadAsync() => ReadHeadAsync(Socket);

    /// <summary>Reads exactly <paramref name="count"/> bytes.</summary>
    public async Task<byte[]> ReadExactlyAsync(int count)
    {
        var bytes = new byte[count];
        var done = 0;
        while (done < count)
        {
            var read = await Socket.ReceiveAsync(bytes.AsMemory(done)).AsTask().Within();
            Assert.True(read > 0, $"the connection closed after {done} of {count} bytes");
            done += read;
        }

        return bytes;
    }

    /// <summary>Reads until the bytes received end with <paramref name="end"/>; returns them all.</summary>
    public async Task<byte[]> ReadUntilAsync(byte[] end)
    {
        var received = new MemoryStream();
        var buffer = new byte[256 * 1024];
        while (!(received.Length >= end.Length && received.GetBuffer().AsSpan((int)received.Length - end.Length, end.Length).SequenceEqual(end)))
        {
            var read = await Socket.ReceiveAsync(buffer.AsMemory()).AsTask().Within();
            Assert.True(read > 0, $"the connection closed after {received.Length} bytes, before the expected end");
            received.Write(buffer, 0, read);
        }

        return received.ToArray();
    }

    /// <summary>Reads until the client closes its side; returns everything received.</summary>
    public async Task<byte[]> ReadToEndAsync()
    {
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            int read;
            try
            {
                read = await Socket.ReceiveAsync(buffer.AsMemory()).AsTask().Within();
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
    public Task SendAsync(string text) => Socket.SendAsync(Encoding.ASCII.GetBytes(text).AsMemory()).AsTask().Within();

    /// <summary>
    /// Reads the <c>Content-Length</c> body of the request whose <paramref name="head"/> was read, acknowledges it with
    /// a 202 and checks that <paramref name="pending"/>, the client's call, returns that 202.
    /// </summary>
    public async Task ReadBodyAndAcknowledgeAsync(string head, Task<RuntimeApiReply> pending)
    {
        await ReadExactlyAsync(RuntimeApiPeer.ContentLength(head));
        await SendAsync(RuntimeApiPeer.Accepted);
        Assert.Equal(202, (await pending.Within()).StatusCode);
    }

    private static async Task<string> ReadHeadAsync(Socket socket)
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
}
