using System.Net.Sockets;
using LambdaStreamingHosting.RuntimeApi;
using LambdaStreamingHosting.Tests.Support;

namespace LambdaStreamingHosting.Tests.RuntimeApi;

/// <summary>
/// A Runtime API that answers before it read the whole request (410 for a late answer under Managed Instances, 413)
/// and closes the connection: the reply is what counts, not the failed send, and the client goes on.
/// </summary>
public sealed class EarlyReplyTests : IDisposable
{
    private readonly RuntimeApiPeer _peer = new();

    public void Dispose() => _peer.Dispose();

    [Fact]
    public async Task A_reply_sent_before_a_large_buffered_response_was_read_is_returned_not_fatal()
    {
        await using var client = new RuntimeApiClient(_peer.Endpoint);
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
        using (var early = await _peer.AcceptRequestAsync())
        {
            await early.SendAsync(earlyReply);
            early.Socket.Shutdown(SocketShutdown.Send);
        }

        using var next = await _peer.AcceptRequestAsync();
        Assert.Contains("/next-request/response", next.Head, StringComparison.Ordinal);
        await next.SendAsync(reply);
    }
}
