using System.Net;
using System.Net.Sockets;
using System.Text;
using LambdaStreamingHosting.RuntimeApi;
using LambdaStreamingHosting.Tests.Support;

namespace LambdaStreamingHosting.Tests.RuntimeApi;

/// <summary>
/// A Runtime API that answers before it read the whole request (410 for a late answer under Managed Instances, 413)
/// and closes the connection: the reply is what counts, not the failed send, and the client goes on.
/// </summary>
public sealed class EarlyReplyTests : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public EarlyReplyTests() => _listener.Start();

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task A_reply_sent_before_a_large_buffered_response_was_read_is_returned_not_fatal()
    {
        await using var client = new RuntimeApiClient(RuntimeApiEndpoint.Parse($"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}"));
        var server = ServeAsync(
            "HTTP/1.1 410 Gone\r\nContent-Type: application/json\r\nContent-Length: 39\r\nConnection: close\r\n\r\n{\"errorMessage\":\"late\",\"errorType\":\"x\"}",
            "HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}");

        // Far more than the loopback socket buffers hold, so the send is still running when the peer closes.
        var late = await client.PostResponseAsync("late-request", null, new byte[64 * 1024 * 1024], CancellationToken.None).AsTask().Within();
        var next = await client.PostResponseAsync("next-request", null, "{}"u8.ToArray(), CancellationToken.None).AsTask().Within();

        Assert.Equal(410, late.StatusCode);
        Assert.Contains("late", late.BodyText(), StringComparison.Ordinal);
        Assert.Equal(202, next.StatusCode);
        await server.Within();
    }

    /// <summary>
    /// For each reply: accepts a connection, reads the request head only, replies, and closes with the body unread
    /// (the first) or after reading the small body (the others).
    /// </summary>
    private async Task ServeAsync(string earlyReply, string reply)
    {
        using (var early = await _listener.AcceptSocketAsync())
        {
            await ReadHeadAsync(early);
            await early.SendAsync(Encoding.ASCII.GetBytes(earlyReply));
            early.Shutdown(SocketShutdown.Send);
        }

        using var next = await _listener.AcceptSocketAsync();
        var head = await ReadHeadAsync(next);
        Assert.Contains("/next-request/response", head, StringComparison.Ordinal);
        await next.SendAsync(Encoding.ASCII.GetBytes(reply));
    }

    private static async Task<string> ReadHeadAsync(Socket socket)
    {
        var received = new StringBuilder();
        var buffer = new byte[1];
        while (!received.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await socket.ReceiveAsync(buffer);
            Assert.True(read > 0, "the connection closed before the request head ended");
            received.Append((char)buffer[0]);
        }

        return received.ToString();
    }
}
