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

    private static async Task<RuntimeApiReply> ParseAsync(string text, int bytesPerWrite)
    {
        var pipe = new Pipe();
        var bytes = Encoding.ASCII.GetBytes(text);
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < bytes.Length; i += bytesPerWrite)
            {
                await pipe.Writer.WriteAsync(bytes.AsMemory(i, Math.Min(bytesPerWrite, bytes.Length - i)));
            }

            await pipe.Writer.CompleteAsync();
        });
        var reply = await HttpReplyParser.ReadAsync(pipe.Reader, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        await writer;
        return reply;
    }
}
