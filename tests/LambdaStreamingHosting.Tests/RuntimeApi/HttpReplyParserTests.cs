using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Tests.RuntimeApi;

public class HttpReplyParserTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(1000)]
    public async Task Replies_on_one_connection_are_read_one_after_another_with_only_error_bodies_kept(int bytesPerWrite)
    {
        // Acknowledgements framed every way the parser knows (a length, chunks with an extension and trailers, no
        // body), errors with a length and with chunks: each reply ends exactly where the next begins.
        var replies = await ParseAllAsync(
            "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}" +
            "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 44\r\n\r\n{\"errorMessage\":\"too big\",\"errorType\":\"413\"}" +
            "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{\"st\r\nb\r\natus\":\"OK\"}\r\n0\r\nX-Trailer: 1\r\n\r\n" +
            "HTTP/1.1 410 Gone\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nlate \r\n6\r\nanswer\r\n0\r\n\r\n" +
            "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n" +
            "HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}",
            count: 6, bytesPerWrite);

        Assert.Equal([202, 413, 202, 410, 204, 202], replies.Select(r => r.StatusCode));
        Assert.All(replies, r => Assert.True(r.KeepAlive));
        Assert.Equal(["", "{\"errorMessage\":\"too big\",\"errorType\":\"413\"}", "", "late answer", "", ""], replies.Select(r => r.BodyText()));
        Assert.Equal("413 {\"errorMessage\":\"too big\",\"errorType\":\"413\"}", replies[1].ToString());
    }

    [Fact]
    public async Task Reads_to_the_end_when_the_server_closes_the_connection()
    {
        var reply = await ParseAsync("HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nbroken", bytesPerWrite: 100);

        Assert.Equal(500, reply.StatusCode);
        Assert.Equal("broken", Encoding.UTF8.GetString(reply.Body));
        Assert.False(reply.KeepAlive);
    }

    [Theory]
    [InlineData("HTTP/1.1 202 Accepted\r\nconnection: CLOSE\r\ncontent-length: 2\r\n\r\nok", false)]
    [InlineData("HTTP/1.1 202 Accepted\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", true)]
    [InlineData("HTTP/1.0 202 Accepted\r\nContent-Length: 2\r\n\r\nok", false)]
    [InlineData("HTTP/1.0 202 Accepted\r\nCONNECTION: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", true)]
    public async Task Keep_alive_follows_the_version_and_the_Connection_header_in_any_case(string text, bool keepAlive)
    {
        var reply = await ParseAsync(text, bytesPerWrite: 100);

        Assert.Equal((202, keepAlive), (reply.StatusCode, reply.KeepAlive));
        Assert.True(reply.Body.IsEmpty);
    }

    [Fact]
    public async Task An_acknowledgement_cut_short_in_its_body_fails_clearly()
    {
        const string accepted = "HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}";

        var ex = await Assert.ThrowsAsync<EndOfStreamException>(() => ParseAllAsync(accepted + accepted[..^3], count: 2, bytesPerWrite: 100));

        Assert.Equal("The Runtime API closed the connection after 12 of 15 body bytes.", ex.Message);
    }

    [Theory]
    [InlineData("HTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", typeof(InvalidDataException))]
    [InlineData("HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n", typeof(InvalidDataException))]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", typeof(InvalidDataException))]
    [InlineData("HTTP/1.1 200 OK\r\nbroken header\r\n\r\n", typeof(InvalidDataException))]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", typeof(InvalidDataException))]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", typeof(EndOfStreamException))]
    [InlineData("HTTP/1.1 200 O", typeof(EndOfStreamException))]
    [InlineData("", typeof(EndOfStreamException))]
    public async Task A_broken_reply_is_an_error_not_a_hang(string text, Type expected)
    {
        var error = await Record.ExceptionAsync(() => ParseAsync(text, bytesPerWrite: 5));
        Assert.IsType(expected, error);
    }

    [Fact]
    public async Task Next_replies_are_read_into_one_reused_invocation_with_nothing_left_of_the_previous_one()
    {
        using var invocation = new Invocation();
        const string Arn = "arn:aws:lambda:eu-west-1:123456789012:function:f";
        await ParseInvocationAsync(invocation, "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: id-1\r\nLambda-Runtime-Deadline-Ms: 1700000000000\r\n" +
            $"Lambda-Runtime-Invoked-Function-Arn: {Arn}\r\nLambda-Runtime-Trace-Id: Root=1\r\nLambda-Runtime-Aws-Tenant-Id: t-1\r\n" +
            "Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n", bytesPerWrite: 7);

        Assert.Equal("id-1", invocation.RequestId);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1700000000000), invocation.Deadline);
        Assert.Equal(Arn, invocation.InvokedFunctionArn);
        Assert.Equal("Root=1", invocation.TraceId);
        Assert.Equal("t-1", invocation.TenantId);
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(invocation.Event.Span));
        var arn = invocation.InvokedFunctionArn;
        invocation.Release();

        // Names in another case, no trace id, tenant or deadline: none of the first reply's values remain.
        await ParseInvocationAsync(invocation, $"HTTP/1.1 200 OK\r\nlambda-runtime-aws-request-id: id-2\r\nLAMBDA-RUNTIME-INVOKED-FUNCTION-ARN: {Arn}\r\n" +
            "Content-Length: 2\r\n\r\n[]", bytesPerWrite: 100);

        Assert.Equal("id-2", invocation.RequestId);
        Assert.Equal(DateTimeOffset.MaxValue, invocation.Deadline);
        Assert.Same(arn, invocation.InvokedFunctionArn);
        Assert.Null(invocation.TraceId);
        Assert.Null(invocation.TenantId);
        Assert.Equal("[]", Encoding.UTF8.GetString(invocation.Event.Span));

        // A trace id decoded for one invocation is not the next one's.
        await ParseInvocationAsync(invocation, "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: id-3\r\nLambda-Runtime-Trace-Id: Root=2\r\n" +
            "Content-Length: 0\r\n\r\n", bytesPerWrite: 100);
        Assert.Equal("Root=2", invocation.TraceId);
        Assert.True(invocation.Event.IsEmpty);
    }

    private static async Task ParseInvocationAsync(Invocation invocation, string text, int bytesPerWrite)
    {
        var pipe = new Pipe();
        var writer = WriteInPiecesAsync(pipe.Writer, text, bytesPerWrite);
        var head = await HttpReplyParser.ReadInvocationAsync(pipe.Reader, invocation, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        await writer;
        Assert.Equal(200, head.StatusCode);
    }

    private static Task WriteInPiecesAsync(PipeWriter pipe, string text, int bytesPerWrite) => Task.Run(async () =>
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        for (var i = 0; i < bytes.Length; i += bytesPerWrite)
        {
            await pipe.WriteAsync(bytes.AsMemory(i, Math.Min(bytesPerWrite, bytes.Length - i)));
        }

        await pipe.CompleteAsync();
    });

    private static async Task<List<RuntimeApiReply>> ParseAllAsync(string text, int count, int bytesPerWrite)
    {
        var pipe = new Pipe();
        var writer = WriteInPiecesAsync(pipe.Writer, text, bytesPerWrite);
        var replies = new List<RuntimeApiReply>();
        for (var i = 0; i < count; i++)
        {
            replies.Add(await HttpReplyParser.ReadAsync(pipe.Reader, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        }

        await writer;
        var rest = await pipe.Reader.ReadAsync();
        Assert.True(rest.Buffer.IsEmpty && rest.IsCompleted, "every byte belongs to a reply");
        return replies;
    }

    private static async Task<RuntimeApiReply> ParseAsync(string text, int bytesPerWrite)
    {
        var pipe = new Pipe();
        var writer = WriteInPiecesAsync(pipe.Writer, text, bytesPerWrite);
        var reply = await HttpReplyParser.ReadAsync(pipe.Reader, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        await writer;
        return reply;
    }
}
