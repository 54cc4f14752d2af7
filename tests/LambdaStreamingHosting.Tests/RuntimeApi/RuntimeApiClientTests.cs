using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using LambdaStreamingHosting.RuntimeApi;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Tests.Support;

namespace LambdaStreamingHosting.Tests.RuntimeApi;

/// <summary>
/// The Runtime API client against a loopback peer that reads its raw requests and writes raw replies: <c>/next</c>
/// and its headers, what each reply status of <c>/response</c> and <c>/error</c> becomes, keep-alive reuse, and
/// connections that close.
/// </summary>
public sealed class RuntimeApiClientTests : IDisposable
{
    private readonly RuntimeApiPeer _peer = new();

    public void Dispose() => _peer.Dispose();

    [Fact]
    public async Task Next_reads_every_invocation_header_and_the_event()
    {
        await using var wire = _peer.NewClient();
        using var invocation = new Invocation();
        var next = wire.Client.NextAsync(invocation, CancellationToken.None).AsTask();

        var peer = await wire.FirstConnection.Within();
        Assert.StartsWith("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n", peer.Head, StringComparison.Ordinal);
        Assert.False(peer.Headers.ContainsKey("Content-Length"));
        const string Event = "{\"rawPath\":\"/hello\"}";
        await peer.SendAsync(
            "HTTP/1.1 200 OK\r\n" +
            "Content-Type: application/json\r\n" +
            "lambda-runtime-aws-request-id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n" + // names are case-insensitive
            "Lambda-Runtime-Deadline-Ms: 1542409706888\r\n" +
            "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:custom-runtime\r\n" +
            "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n" +
            "Lambda-Runtime-Client-Context: {\"client\":{}}\r\n" +
            "Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"id\"}\r\n" +
            "Lambda-Runtime-Aws-Tenant-Id: tenant-1\r\n" +
            "Lambda-Runtime-Invocation-Id: delivery-2\r\n" +
            "X-Other: ignored\r\n" +
            $"Content-Length: {Event.Length}\r\n\r\n{Event}");
        await next.Within();

        Assert.Equal("8476a536-e9f4-11e8-9739-2dfe598c3fcd", invocation.RequestId);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1542409706888), invocation.Deadline);
        Assert.Equal("arn:aws:lambda:us-east-2:123456789012:function:custom-runtime", invocation.InvokedFunctionArn);
        Assert.Equal("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1", invocation.TraceId);
        Assert.Equal("{\"client\":{}}", invocation.ClientContext);
        Assert.Equal("{\"cognitoIdentityId\":\"id\"}", invocation.CognitoIdentity);
        Assert.Equal("tenant-1", invocation.TenantId);
        Assert.Equal("delivery-2", invocation.InvocationId);
        Assert.False(invocation.InvocationIdIgnored);
        Assert.Equal(Event, Encoding.UTF8.GetString(invocation.Event.Span));
    }

    [Fact]
    public async Task Next_without_optional_headers_leaves_them_empty()
    {
        await using var wire = _peer.NewClient();
        using var invocation = new Invocation();
        var next = wire.Client.NextAsync(invocation, CancellationToken.None).AsTask();
        var peer = await wire.FirstConnection.Within();
        await peer.SendAsync("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\nContent-Length: 2\r\n\r\n{}");
        await next.Within();

        Assert.Equal("r1", invocation.RequestId);
        Assert.Equal(DateTimeOffset.MaxValue, invocation.Deadline);
        Assert.Equal("", invocation.InvokedFunctionArn);
        Assert.Null(invocation.TraceId);
        Assert.Null(invocation.ClientContext);
        Assert.Null(invocation.CognitoIdentity);
        Assert.Null(invocation.TenantId);
        Assert.Null(invocation.InvocationId);
    }

    [Fact]
    public async Task Next_without_a_request_id_is_fatal()
    {
        await using var wire = _peer.NewClient();
        using var invocation = new Invocation();
        var next = wire.Client.NextAsync(invocation, CancellationToken.None).AsTask();
        var peer = await wire.FirstConnection.Within();
        await peer.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
        var error = await Assert.ThrowsAsync<RuntimeApiFatalException>(() => next).Within();
        Assert.Contains("Lambda-Runtime-Aws-Request-Id", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(403)]
    [InlineData(500)]
    public async Task Next_answered_with_anything_but_200_is_fatal_and_names_the_reply(int status)
    {
        await using var wire = _peer.NewClient();
        using var invocation = new Invocation();
        var next = wire.Client.NextAsync(invocation, CancellationToken.None).AsTask();
        var peer = await wire.FirstConnection.Within();
        await peer.SendAsync(RuntimeApiPeer.Reply(status, "{\"errorType\":\"Nope\"}"));
        var error = await Assert.ThrowsAsync<RuntimeApiFatalException>(() => next).Within();
        Assert.Contains(status.ToString(CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        Assert.Contains("Nope", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(202)]
    [InlineData(400)]
    [InlineData(403)]
    [InlineData(410)]
    [InlineData(413)]
    public async Task A_response_reply_below_500_is_returned_with_its_body_and_the_connection_kept(int status)
    {
        await using var wire = _peer.NewClient();
        var post = wire.Client.PostResponseAsync("request-1", "invocation-1", "{\"ok\":true}"u8.ToArray(), CancellationToken.None).AsTask();
        var peer = await wire.FirstConnection.Within();
        Assert.StartsWith("POST /2018-06-01/runtime/invocation/request-1/response HTTP/1.1\r\n", peer.Head, StringComparison.Ordinal);
        var headers = peer.Headers;
        Assert.Equal("11", headers["Content-Length"]);
        Assert.Equal("invocation-1", headers["Lambda-Runtime-Invocation-Id"]);
        Assert.Equal("{\"ok\":true}", Encoding.ASCII.GetString(await peer.ReadExactlyAsync(11)));
        var body = status == 202 ? "{\"status\":\"OK\"}" : $"{{\"errorMessage\":\"m{status}\",\"errorType\":\"T\"}}";
        await peer.SendAsync(RuntimeApiPeer.Reply(status, body));

        var reply = await post.Within();
        Assert.Equal(status, reply.StatusCode);
        Assert.Equal(status == 202, reply.IsSuccess);
        Assert.True(reply.KeepAlive);
        Assert.Equal(status == 202 ? "" : body, reply.BodyText()); // an acknowledgement's body is read past

        // The next request goes on the same connection.
        var error = wire.Client.PostErrorAsync("request-2", null, new LambdaError("E", "m"), CancellationToken.None).AsTask();
        var errorHead = await peer.ReadHeadAsync();
        Assert.Contains("/request-2/error ", errorHead, StringComparison.Ordinal);
        await peer.ReadBodyAndAcknowledgeAsync(errorHead, error);
    }

    [Theory]
    [InlineData(202)]
    [InlineData(400)]
    [InlineData(403)]
    [InlineData(410)]
    [InlineData(413)]
    public async Task An_error_reply_below_500_is_returned_and_the_request_carries_the_error_type_and_document(int status)
    {
        await using var wire = _peer.NewClient();
        var post = wire.Client.PostErrorAsync("request-1", "invocation-1", new LambdaError("Function.Bad\nType", "went wrong"), CancellationToken.None).AsTask();
        var peer = await wire.FirstConnection.Within();
        Assert.StartsWith("POST /2018-06-01/runtime/invocation/request-1/error HTTP/1.1\r\n", peer.Head, StringComparison.Ordinal);
        var headers = peer.Headers;
        Assert.Equal("Function.Bad_Type", headers["Lambda-Runtime-Function-Error-Type"]);
        Assert.Equal("application/json", headers["Content-Type"]);
        Assert.Equal("invocation-1", headers["Lambda-Runtime-Invocation-Id"]);
        var document = await peer.ReadExactlyAsync(RuntimeApiPeer.ContentLength(peer.Head));
        using (var json = JsonDocument.Parse(document))
        {
            Assert.Equal("Function.Bad\nType", json.RootElement.GetProperty("errorType").GetString());
            Assert.Equal("went wrong", json.RootElement.GetProperty("errorMessage").GetString());
        }

        await peer.SendAsync(RuntimeApiPeer.Reply(status, "{\"status\":\"x\"}"));
        var reply = await post.Within();
        Assert.Equal(status, reply.StatusCode);
        Assert.Equal(status == 202, reply.IsSuccess);
    }

    [Fact]
    public async Task A_500_reply_to_a_response_or_an_error_is_fatal_and_names_the_request_and_the_reply()
    {
        await using var wire = _peer.NewClient();
        var post = wire.Client.PostResponseAsync("request-1", null, "{}"u8.ToArray(), CancellationToken.None).AsTask();
        var peer = await wire.FirstConnection.Within();
        await peer.ReadExactlyAsync(2);
        await peer.SendAsync(RuntimeApiPeer.Reply(500, "{\"errorType\":\"ServiceError\"}"));
        var response = await Assert.ThrowsAsync<RuntimeApiFatalException>(() => post).Within();
        Assert.Contains("POST /runtime/invocation/request-1/response", response.Message, StringComparison.Ordinal);
        Assert.Contains("500", response.Message, StringComparison.Ordinal);
        Assert.Contains("ServiceError", response.Message, StringComparison.Ordinal);

        var error = wire.Client.PostErrorAsync("request-1", null, new LambdaError("E", "m"), CancellationToken.None).AsTask();
        var head = await peer.ReadHeadAsync(); // a 500 with keep-alive leaves the connection usable
        await peer.ReadExactlyAsync(RuntimeApiPeer.ContentLength(head));
        await peer.SendAsync(RuntimeApiPeer.Reply(500, "{}"));
        var failure = await Assert.ThrowsAsync<RuntimeApiFatalException>(() => error).Within();
        Assert.Contains("POST /runtime/invocation/request-1/error", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(202)]
    [InlineData(400)]
    [InlineData(403)]
    [InlineData(410)]
    [InlineData(413)]
    [InlineData(500)]
    public async Task A_streamed_response_reply_is_returned_below_500_and_fatal_at_500(int status)
    {
        await using var wire = _peer.NewClient();
        var request = await wire.BeginStreamingResponseAsync();
        request.Body.Write("body"u8);
        await request.Body.EndAsync().AsTask().Within();
        var peer = await wire.FirstConnection.Within();
        await peer.ReadUntilAsync("0\r\n\r\n"u8.ToArray());
        await peer.SendAsync(RuntimeApiPeer.Reply(status, "{\"errorType\":\"T\"}"));

        var read = wire.Client.ReadStreamingReplyAsync(request, CancellationToken.None).AsTask();
        if (status >= 500)
        {
            var error = await Assert.ThrowsAsync<RuntimeApiFatalException>(() => read).Within();
            Assert.Contains("streamed /response", error.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(status, (await read.Within()).StatusCode);
        }

        Assert.True(request.IsReleased);
    }

    [Fact]
    public async Task Keep_alive_replies_reuse_one_connection_for_next_response_and_error()
    {
        await using var wire = _peer.NewClient();
        using var invocation = new Invocation();
        var next = wire.Client.NextAsync(invocation, CancellationToken.None).AsTask();
        var peer = await wire.FirstConnection.Within();
        var secondAccept = _peer.AcceptAsync();
        await peer.SendAsync("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\nContent-Length: 2\r\n\r\n{}");
        await next.Within();

        var post = wire.Client.PostResponseAsync("r1", null, "{}"u8.ToArray(), CancellationToken.None).AsTask();
        await peer.ReadHeadAsync();
        await peer.ReadExactlyAsync(2);
        await peer.SendAsync(RuntimeApiPeer.Accepted);
        await post.Within();

        var error = wire.Client.PostErrorAsync("r2", null, new LambdaError("E", "m"), CancellationToken.None).AsTask();
        await peer.ReadBodyAndAcknowledgeAsync(await peer.ReadHeadAsync(), error);

        Assert.False(secondAccept.IsCompleted); // every request went on the first connection
    }

    [Fact]
    public async Task A_reply_with_connection_close_makes_the_next_request_open_a_new_connection()
    {
        await using var wire = _peer.NewClient();
        var post = wire.Client.PostResponseAsync("r1", null, "{}"u8.ToArray(), CancellationToken.None).AsTask();
        using (var first = await wire.FirstConnection.Within())
        {
            await first.ReadExactlyAsync(2);
            await first.SendAsync(RuntimeApiPeer.Reply(202, "{\"status\":\"OK\"}", close: true));
            var reply = await post.Within();
            Assert.Equal(202, reply.StatusCode);
            Assert.False(reply.KeepAlive);
            Assert.Empty(await first.ReadToEndAsync()); // the client closed it, sending nothing more
        }

        await wire.PostOnANewConnectionAsync("r2");
    }

    [Fact]
    public async Task A_connection_the_peer_closed_while_idle_is_not_reused()
    {
        await using var wire = _peer.NewClient();
        var post = wire.Client.PostResponseAsync("r1", null, "{}"u8.ToArray(), CancellationToken.None).AsTask();
        using (var first = await wire.FirstConnection.Within())
        {
            await first.ReadExactlyAsync(2);
            await first.SendAsync(RuntimeApiPeer.Accepted); // keep-alive, then closed by the peer
            Assert.True((await post.Within()).KeepAlive);
            first.Socket.Shutdown(SocketShutdown.Send); // the client sees it when it takes the idle connection
        }

        await wire.PostOnANewConnectionAsync("r2");
    }

    [Theory]
    [InlineData("", "without replying")]
    [InlineData("HTTP/1.1 202 Acc", "in the middle of a reply head")]
    [InlineData("HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n{\"sta", "after 5 of 15 body bytes")]
    [InlineData("HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\nF\r\n{\"sta", "in the middle of a chunked reply")]
    public async Task A_connection_that_closes_mid_reply_is_fatal_with_a_clear_message_and_is_not_reused(string partial, string message)
    {
        await using var wire = _peer.NewClient();
        var post = wire.Client.PostResponseAsync("r1", null, "{}"u8.ToArray(), CancellationToken.None).AsTask();
        using (var first = await wire.FirstConnection.Within())
        {
            await first.ReadExactlyAsync(2);
            await first.SendAsync(partial);
            first.Socket.Shutdown(SocketShutdown.Send);
            var error = await Assert.ThrowsAsync<RuntimeApiFatalException>(() => post).Within();
            Assert.Contains("POST /runtime/invocation/r1/response", error.Message, StringComparison.Ordinal);
            Assert.Contains(message, error.Message, StringComparison.Ordinal);
            Assert.IsAssignableFrom<IOException>(error.InnerException);
        }

        await wire.PostOnANewConnectionAsync("r2");
    }

    [Fact]
    public async Task A_next_reply_cut_short_is_fatal_and_the_next_call_opens_a_new_connection()
    {
        await using var wire = _peer.NewClient();
        using var invocation = new Invocation();
        var next = wire.Client.NextAsync(invocation, CancellationToken.None).AsTask();
        using (var first = await wire.FirstConnection.Within())
        {
            await first.SendAsync("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\nContent-Length: 20\r\n\r\n{\"par");
            first.Socket.Shutdown(SocketShutdown.Send);
            var error = await Assert.ThrowsAsync<RuntimeApiFatalException>(() => next).Within();
            Assert.Contains("GET /runtime/invocation/next", error.Message, StringComparison.Ordinal);
        }

        var secondAccept = _peer.AcceptRequestAsync();
        var again = wire.Client.NextAsync(invocation, CancellationToken.None).AsTask();
        using var second = await secondAccept.Within();
        await second.SendAsync("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r2\r\nContent-Length: 2\r\n\r\n{}");
        await again.Within();
        Assert.Equal("r2", invocation.RequestId);
    }
}
