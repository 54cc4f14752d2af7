using System.Text;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>The exact bytes a streamed answer puts on the wire to the Runtime API.</summary>
public sealed class StreamingWireTests : FakeRuntimeApiTest
{
    [Fact]
    public async Task Response_is_prelude_delimiter_and_body_in_chunks_then_the_last_chunk()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/hello", async context =>
        {
            context.Response.ContentType = "text/plain";
            await context.Response.WriteAsync("hello");
        }));

        var invocation = Api.Enqueue(TestEvents.FunctionUrl(path: "/hello"));
        var answer = await invocation.Answer.Within();
        await answer.Completed.Within();

        Assert.Equal("response", answer.Action);
        Assert.Equal("POST", answer.Request.Method);
        Assert.Equal($"/2018-06-01/runtime/invocation/{invocation.RequestId}/response", answer.Request.Path);
        Assert.Equal("streaming", answer.Request.Headers["Lambda-Runtime-Function-Response-Mode"]);
        Assert.Equal("chunked", answer.Request.Headers["Transfer-Encoding"]);
        Assert.Equal("application/vnd.awslambda.http-integration-response", answer.Request.Headers["Content-Type"]);
        Assert.Equal("Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body", answer.Request.Headers["Trailer"]);
        Assert.False(answer.Request.Headers.ContainsKey("Content-Length"));

        var prelude = """{"statusCode":200,"headers":{"Content-Type":"text/plain"}}""";
        var preludeChunk = prelude + "\0\0\0\0\0\0\0\0";
        var expected = $"{preludeChunk.Length:X}\r\n{preludeChunk}\r\n5\r\nhello\r\n0\r\n\r\n";
        Assert.Equal(expected, Encoding.UTF8.GetString(answer.RawChunkedBody));
        Assert.Empty(answer.Trailers);
    }

    [Fact]
    public async Task Small_writes_gather_into_one_chunk_until_the_response_ends()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            var piece = new byte[10];
            for (var i = 0; i < 100; i++)
            {
                piece.AsSpan().Fill((byte)('a' + (i % 26)));
                await context.Response.Body.WriteAsync(piece);
            }
        }));

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        Assert.Equal(2, answer.ChunkSizes.Count);
        Assert.Equal(1000, answer.ChunkSizes[1]);
        await answer.ReadPreludeAsync();
        Assert.Equal(1000, (await answer.ReadBodyToEndAsync()).Length);
    }

    [Fact]
    public async Task DisableBuffering_sends_each_write_as_it_comes()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()!.DisableBuffering();
            await context.Response.Body.WriteAsync("one;"u8.ToArray());
            await context.Response.Body.WriteAsync("two;"u8.ToArray());
            await context.Response.Body.WriteAsync("three"u8.ToArray());
        }));

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        Assert.Equal([4, 4, 5], answer.ChunkSizes.Skip(1));
    }

    [Fact]
    public async Task A_write_larger_than_the_buffer_goes_out_at_once_as_one_chunk_after_what_was_buffered()
    {
        const int total = 100_000;
        var data = Enumerable.Range(0, total).Select(i => (byte)(i % 251)).ToArray();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            await context.Response.Body.WriteAsync("head;"u8.ToArray());
            await context.Response.Body.WriteAsync(data);
            await release.Task.Within();
        }), options => options.ResponseBufferSize = 4096);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.ReadPreludeAsync().Within();

        // Sent while the app still waits: the buffered bytes and the large write as one chunk, no flush needed.
        var chunk = await answer.ReadChunkAsync().Within();
        Assert.Equal([.. "head;"u8.ToArray(), .. data], Assert.IsType<byte[]>(chunk));
        release.SetResult();
        Assert.Empty(await answer.ReadBodyToEndAsync().Within());
        Assert.Equal(total + 5, answer.ChunkSizes[1]);
        Assert.EndsWith("\r\n0\r\n\r\n", Encoding.ASCII.GetString(answer.RawChunkedBody), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cookies_and_repeated_headers_are_exact_and_framing_headers_never_reach_the_prelude()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            context.Response.StatusCode = 201;
            context.Response.Cookies.Append("a", "1");
            context.Response.Cookies.Append("b", "2", new CookieOptions { HttpOnly = true, Path = "/x" });
            context.Response.Headers.Append("X-Multi", "one");
            context.Response.Headers.Append("X-Multi", "two");
            context.Response.ContentLength = 2;
            context.Response.Headers.TransferEncoding = "chunked";
            await context.Response.WriteAsync("ok");
        }));

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        var prelude = await answer.ReadPreludeAsync().Within();

        Assert.Equal(201, prelude.GetProperty("statusCode").GetInt32());
        Assert.Equal(["a=1; path=/", "b=2; path=/x; httponly"], prelude.GetProperty("cookies").EnumerateArray().Select(c => c.GetString()));
        var headers = prelude.GetProperty("headers");
        Assert.Equal("one, two", headers.GetProperty("X-Multi").GetString());
        Assert.False(headers.TryGetProperty("Set-Cookie", out _));
        Assert.False(headers.TryGetProperty("Content-Length", out _));
        Assert.False(headers.TryGetProperty("Transfer-Encoding", out _));
        Assert.Equal("ok", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
    }
}
