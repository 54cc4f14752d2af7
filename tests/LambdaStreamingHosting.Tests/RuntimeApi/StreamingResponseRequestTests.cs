using System.Net.Sockets;
using System.Text;
using LambdaStreamingHosting.RuntimeApi;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Tests.Support;

namespace LambdaStreamingHosting.Tests.RuntimeApi;

/// <summary>
/// A streamed <c>/response</c> as the Runtime API reads it off a loopback socket: its request head, that nothing goes
/// out before the first commit, and what becomes of its connection when it is released or abandoned.
/// </summary>
public sealed class StreamingResponseRequestTests : IDisposable
{
    private readonly RuntimeApiPeer _peer = new();

    public void Dispose() => _peer.Dispose();

    [Fact]
    public async Task The_head_is_a_chunked_streaming_post_declaring_the_error_trailers_and_echoing_the_invocation_id()
    {
        await using var wire = _peer.NewClient();
        var request = await wire.BeginStreamingResponseAsync("req/1 é", "invocation-7");
        Assert.Equal("req/1 é", request.RequestId);
        Assert.Equal("invocation-7", request.InvocationId);
        await request.Body.EndAsync().AsTask().Within();

        var peer = await wire.FirstConnection.Within();
        Assert.StartsWith("POST /2018-06-01/runtime/invocation/req%2F1%20%C3%A9/response HTTP/1.1\r\n", peer.Head, StringComparison.Ordinal);
        var headers = peer.Headers;
        Assert.Equal($"127.0.0.1:{_peer.Port}", headers["Host"]);
        Assert.Equal("streaming", headers["Lambda-Runtime-Function-Response-Mode"]);
        Assert.Equal("chunked", headers["Transfer-Encoding"]);
        Assert.Equal("application/vnd.awslambda.http-integration-response", headers["Content-Type"]);
        Assert.Equal("Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body", headers["Trailer"]);
        Assert.Equal("invocation-7", headers["Lambda-Runtime-Invocation-Id"]);
        Assert.False(headers.ContainsKey("Content-Length"));
        Assert.Equal("0\r\n\r\n", Encoding.ASCII.GetString(await peer.ReadExactlyAsync(5)));
        await wire.Client.AbandonAsync(request);
    }

    [Fact]
    public async Task Without_an_invocation_id_the_head_has_no_invocation_id_header()
    {
        await using var wire = _peer.NewClient();
        var request = await wire.BeginStreamingResponseAsync();
        Assert.Null(request.InvocationId);
        await request.Body.EndAsync().AsTask().Within();

        var headers = (await wire.FirstConnection.Within()).Headers;
        Assert.False(headers.ContainsKey("Lambda-Runtime-Invocation-Id"));
        Assert.Equal("streaming", headers["Lambda-Runtime-Function-Response-Mode"]);
        await wire.Client.AbandonAsync(request);
    }

    [Fact]
    public async Task Nothing_goes_out_before_the_first_commit_so_an_error_can_replace_it_on_the_same_connection()
    {
        await using var wire = _peer.NewClient();
        var state = new ResponseState();
        var request = await wire.BeginStreamingResponseAsync(invocationId: "invocation-1", state: state);
        request.Body.Write("never committed"u8);
        Assert.Equal(0, request.SendCount);

        var posted = wire.Client.PostErrorInsteadAsync(request, new LambdaError("Function.Failed", "no"), CancellationToken.None);
        Assert.True(request.IsReleased);
        Assert.False(state.AnythingSent);

        // The first bytes on the connection the streamed request held are the /error request: its head never went.
        var peer = await wire.FirstConnection.Within();
        Assert.StartsWith("POST /2018-06-01/runtime/invocation/request-1/error HTTP/1.1\r\n", peer.Head, StringComparison.Ordinal);
        var headers = peer.Headers;
        Assert.Equal("Function.Failed", headers["Lambda-Runtime-Function-Error-Type"]);
        Assert.Equal("invocation-1", headers["Lambda-Runtime-Invocation-Id"]);
        await peer.ReadBodyAndAcknowledgeAsync(peer.Head, posted);
    }

    [Fact]
    public async Task An_error_cannot_replace_a_response_that_sent_anything()
    {
        await using var wire = _peer.NewClient();
        var request = await wire.BeginStreamingResponseAsync();
        await request.Body.FlushAsync().AsTask().Within(); // a flush with no body bytes sends the head

        await wire.FirstConnection.Within();
        await Assert.ThrowsAsync<InvalidOperationException>(() => wire.Client.PostErrorInsteadAsync(request, new LambdaError("X", "y"), CancellationToken.None)).Within();
        Assert.False(request.IsReleased);
        await wire.Client.AbandonAsync(request);
    }

    [Fact]
    public async Task A_second_request_cannot_begin_while_the_first_holds_its_connection_and_the_object_is_reused_after()
    {
        await using var wire = _peer.NewClient();
        var first = await wire.BeginStreamingResponseAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => wire.BeginStreamingResponseAsync("request-2")).Within();
        Assert.Throws<InvalidOperationException>(() => first.Reset(first.Connection, "request-2", null, default, new ResponseState(), maxUnsentBytes: null, broken: null));
        first.Body.Write("x"u8);
        await first.Body.EndAsync().AsTask().Within();
        var peer = await wire.FirstConnection.Within();
        await peer.ReadUntilAsync("0\r\n\r\n"u8.ToArray());
        await peer.SendAsync(RuntimeApiPeer.Accepted);
        Assert.Equal(202, (await wire.Client.ReadStreamingReplyAsync(first, CancellationToken.None).AsTask().Within()).StatusCode);
        Assert.True(first.IsReleased);
        Assert.True(first.SendCount >= 1); // still what it made, after the release
        Assert.Throws<InvalidOperationException>(() => first.Connection);
        Assert.Null(first.Release());

        var second = await wire.BeginStreamingResponseAsync("request-2");
        Assert.Same(first, second);
        Assert.Equal("request-2", second.RequestId);
        Assert.Equal(0, second.SendCount);
        await wire.Client.AbandonAsync(second);
    }

    [Fact]
    public async Task Abandoning_a_request_that_sent_nothing_keeps_the_connection_for_the_next_request()
    {
        await using var wire = _peer.NewClient();
        var request = await wire.BeginStreamingResponseAsync();
        await wire.Client.AbandonAsync(request).AsTask().Within();
        Assert.True(request.IsReleased);
        await wire.Client.AbandonAsync(request).AsTask().Within(); // released already: nothing to do

        var next = wire.Client.PostResponseAsync("request-2", null, "{}"u8.ToArray(), CancellationToken.None).AsTask();
        var peer = await wire.FirstConnection.Within();
        Assert.StartsWith("POST /2018-06-01/runtime/invocation/request-2/response HTTP/1.1\r\n", peer.Head, StringComparison.Ordinal);
        await peer.ReadBodyAndAcknowledgeAsync(peer.Head, next);
    }

    [Fact]
    public async Task Abandoning_a_request_that_sent_something_closes_its_connection_and_the_next_request_opens_another()
    {
        await using var wire = _peer.NewClient();
        var request = await wire.BeginStreamingResponseAsync();
        request.Body.Write("half"u8);
        await request.Body.FlushAsync().AsTask().Within();

        await wire.Client.AbandonAsync(request).AsTask().Within();
        Assert.True(request.IsReleased);

        // The peer sees the request end without its last chunk: after the head, the one chunk and nothing more.
        var peer = await wire.FirstConnection.Within();
        Assert.Equal("4\r\nhalf\r\n", Encoding.ASCII.GetString(await peer.ReadToEndAsync()));

        await wire.PostOnANewConnectionAsync("request-2");
    }

    [Fact]
    public async Task Abandoning_a_request_whose_send_is_in_flight_ends_the_send_and_marks_the_response_broken()
    {
        await using var wire = _peer.NewClient();
        var state = new ResponseState();
        var broken = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        var request = await wire.BeginStreamingResponseAsync(state: state, broken: ex => broken.TrySetResult(ex));
        // The app is done: its last flush returned (no cap) while the send of it is still in flight.
        request.Body.Write(new byte[32 * 1024 * 1024]);
        await request.Body.FlushAsync().AsTask().Within();
        Assert.False(state.IsBroken);

        await wire.Client.AbandonAsync(request).AsTask().Within(); // closes the connection, waits for the send to end
        Assert.True(request.IsReleased);
        Assert.True(state.IsBroken);
        Assert.True((await broken.Task.Within()) is SocketException or IOException);
        await wire.FirstAccept.Within();
    }
}
