using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Tests.RuntimeApi;

public class HttpReplyParserTests
{
    [Fact]
    public async Task Reads_a_Content_Length_reply_that_arrives_one_byte_at_a_time()
    {
        var reply = await ParseAsync("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: id-1\r\nlambda-runtime-deadline-ms: 123\r\nContent-Length: 7\r\n\r\n{\"a\":1}", bytesPerWrite: 1);

        Assert.Equal(200, reply.StatusCode);
        Assert.Equal("id-1", reply.Header("lambda-runtime-aws-request-id"));
        Assert.Equal("123", reply.Header("Lambda-Runtime-Deadline-Ms"));
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(reply.Body));
        Assert.True(reply.KeepAlive);
    }

    [Fact]
    public async Task Reads_a_chunked_reply_with_extensions_and_trailers()
    {
        var reply = await ParseAsync("HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{\"st\r\nb\r\natus\":\"OK\"}\r\n0\r\nX-Trailer: 1\r\n\r\n", bytesPerWrite: 3);

        Assert.Equal(202, reply.StatusCode);
        Assert.Equal("{\"status\":\"OK\"}", Encoding.UTF8.GetString(reply.Body));
    }

    [Fact]
    public async Task Reads_to_the_end_when_the_server_closes_the_connection()
    {
        var reply = await ParseAsync("HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nbroken", bytesPerWrite: 100);

        Assert.Equal(500, reply.StatusCode);
        Assert.Equal("broken", Encoding.UTF8.GetString(reply.Body));
        Assert.False(reply.KeepAlive);
    }

    [Fact]
    public async Task Joins_repeated_headers()
    {
        var reply = await ParseAsync("HTTP/1.1 202 Accepted\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 0\r\n\r\n", bytesPerWrite: 100);
        Assert.Equal("1, 2", reply.Header("X-A"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    public async Task A_reply_that_repeats_the_previous_one_byte_for_byte_is_the_previous_reply(int bytesPerWrite)
    {
        const string accepted = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}";
        var pipe = new Pipe();
        var writer = WriteInPiecesAsync(pipe.Writer, accepted + accepted
            + "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"NO\"}"
            + "HTTP/1.1 202 Accepted\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n\r\n{\"status\":\"NO\"}"
            + "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n\r\n{\"status\":\"NO\"}", bytesPerWrite);

        var first = await ReadAsync(pipe.Reader, previous: null);
        var again = await ReadAsync(pipe.Reader, first);
        var otherBody = await ReadAsync(pipe.Reader, again);
        var otherHeader = await ReadAsync(pipe.Reader, otherBody);
        var otherStatus = await ReadAsync(pipe.Reader, otherHeader);
        await writer;

        Assert.Same(first, again);
        Assert.NotSame(again, otherBody);
        Assert.Equal("{\"status\":\"NO\"}", Encoding.UTF8.GetString(otherBody.Body));
        Assert.Equal("application/json", otherBody.Header("Content-Type"));
        Assert.NotSame(otherBody, otherHeader);
        Assert.Equal("text/plain", otherHeader.Header("Content-Type"));
        Assert.NotSame(otherHeader, otherStatus);
        Assert.Equal((200, "{\"status\":\"NO\"}"), (otherStatus.StatusCode, Encoding.UTF8.GetString(otherStatus.Body)));
        Assert.Equal((202, "{\"status\":\"OK\"}"), (first.StatusCode, Encoding.UTF8.GetString(first.Body)));
    }

    [Fact]
    public async Task A_reply_cut_short_after_the_previous_one_fails_clearly()
    {
        const string accepted = "HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}";
        var pipe = new Pipe();
        var writer = WriteInPiecesAsync(pipe.Writer, accepted + accepted[..^3], bytesPerWrite: 100);

        var first = await ReadAsync(pipe.Reader, previous: null);
        var ex = await Assert.ThrowsAsync<EndOfStreamException>(() => ReadAsync(pipe.Reader, first));
        await writer;

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

    [Fact]
    public void The_event_buffer_keeps_a_small_array_and_lets_a_huge_one_go()
    {
        using var buffer = new EventBuffer();
        buffer.Write(new byte[1000]);
        buffer.Clear();
        var kept = buffer.Capacity;
        Assert.InRange(kept, 1000, EventBuffer.RetainedSize);

        buffer.Write(new byte[6 * 1024 * 1024]);
        Assert.Equal(6 * 1024 * 1024, buffer.WrittenMemory.Length);
        buffer.Clear();
        Assert.Equal(0, buffer.Capacity);
        Assert.True(buffer.WrittenMemory.IsEmpty);
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

    private static Task<RuntimeApiReply> ReadAsync(PipeReader reader, RuntimeApiReply? previous) =>
        HttpReplyParser.ReadAsync(reader, CancellationToken.None, previous).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

    private static async Task<RuntimeApiReply> ParseAsync(string text, int bytesPerWrite)
    {
        var pipe = new Pipe();
        var writer = WriteInPiecesAsync(pipe.Writer, text, bytesPerWrite);
        var reply = await HttpReplyParser.ReadAsync(pipe.Reader, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        await writer;
        return reply;
    }
}
