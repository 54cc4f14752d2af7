using System.Net.Sockets;
using LambdaStreamingHosting.RuntimeApi;
using LambdaStreamingHosting.Server;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>
/// A <see cref="RuntimeApiClient"/> of a <see cref="RuntimeApiPeer"/>, with the peer already waiting to accept the
/// first connection the client opens (<see cref="FirstConnection"/>). Disposing it closes that connection, then the
/// client.
/// </summary>
internal sealed class PeerClient : IAsyncDisposable
{
    private readonly RuntimeApiPeer _peer;

    public PeerClient(RuntimeApiPeer peer)
    {
        _peer = peer;
        Client = new RuntimeApiClient(peer.Endpoint);
        FirstAccept = peer.AcceptAsync();
        FirstConnection = PeerConnection.ReadFirstRequestAsync(FirstAccept);
    }

    public RuntimeApiClient Client { get; }

    /// <summary>The first connection the client opens, accepted by the peer (whether a request head came on it or not).</summary>
    public Task<Socket> FirstAccept { get; }

    /// <summary>The first connection the client opens, accepted by the peer, with the head of its first request read.</summary>
    public Task<PeerConnection> FirstConnection { get; }

    /// <summary>
    /// Begins the client's streamed <c>/response</c> for <paramref name="requestId"/>, reporting into
    /// <paramref name="state"/> (a new one when null); see <see cref="RuntimeApiClient.BeginStreamingResponseAsync"/>.
    /// </summary>
    public Task<StreamingResponseRequest> BeginStreamingResponseAsync(
        string requestId = "request-1", string? invocationId = null, ResponseState? state = null, long? maxUnsentBytes = null, Action<Exception>? broken = null) =>
        Client.BeginStreamingResponseAsync(requestId, invocationId, state ?? new ResponseState(), maxUnsentBytes, broken, CancellationToken.None).AsTask().Within();

    /// <summary>
    /// Posts a small <c>/response</c> for <paramref name="requestId"/> and checks that it goes out on a new connection
    /// the peer accepts, and that the client returns the peer's 202.
    /// </summary>
    public async Task PostOnANewConnectionAsync(string requestId)
    {
        var accept = _peer.AcceptRequestAsync();
        var post = Client.PostResponseAsync(requestId, null, "{}"u8.ToArray(), CancellationToken.None).AsTask();
        using var connection = await accept.Within();
        Assert.StartsWith($"POST /2018-06-01/runtime/invocation/{requestId}/response HTTP/1.1\r\n", connection.Head, StringComparison.Ordinal);
        await connection.ReadBodyAndAcknowledgeAsync(connection.Head, post);
    }

    public async ValueTask DisposeAsync()
    {
        if (FirstAccept.IsCompletedSuccessfully)
        {
            FirstAccept.Result.Dispose();
        }

        await Client.DisposeAsync();
    }
}
