using System.Text;
using LambdaStreamingHosting.Server;
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
    public async Task Every_small_write_goes_out_at_once_as_on_Kestrel()
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

        // No flush, and still one chunk per write: the reader keeps up, so no send is in flight when the next write
        // comes and nothing waits for more (writes coalesce only behind a send in flight; see the next test).
        Assert.Equal(Enumerable.Repeat(10, 100), answer.ChunkSizes.Skip(1));
        await answer.ReadPreludeAsync();
        Assert.Equal(1000, (await answer.ReadBodyToEndAsync()).Length);
    }

    [Fact]
    public async Task Writes_made_while_a_send_is_in_flight_leave_together_in_the_next_send()
    {
        var coalesced = new TaskCompletionSource<(long Writes, long SendsBefore)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sendsAfter = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        long total = 0;
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            var body = Assert.IsType<StreamingResponseBodyFeature>(context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>());
            var piece = new byte[1024];

            // Until a write starts no send, one is in flight: the reader stopped reading and the socket is full.
            long sends;
            do
            {
                sends = body.SendCount;
                await context.Response.Body.WriteAsync(piece);
                total += piece.Length;
            }
            while (body.SendCount > sends);

            const int Writes = 500;
            for (var i = 0; i < Writes; i++)
            {
                await context.Response.Body.WriteAsync(piece);
                total += piece.Length;
            }

            coalesced.SetResult((Writes, body.SendCount));
            context.Response.OnCompleted(() =>
            {
                sendsAfter.SetResult(body.SendCount);
                return Task.CompletedTask;
            });
        }), options => options.MaxResponseBufferSize = null); // writes never wait: the test decides when the reader reads

        var invocation = Api.Enqueue(TestEvents.FunctionUrl());
        invocation.DiscardBody = true;
        invocation.HoldBody();
        var answer = await invocation.Answer.Within();

        var (writes, before) = await coalesced.Task.Within();
        invocation.ReleaseBody();
        await answer.Completed.Within();

        // The send in flight finishes (in a few partial sends as the reader drains the socket), then the 500 writes
        // made meanwhile go out together (and the last chunk), instead of one send each.
        var sends = await sendsAfter.Task.Within() - before;
        Assert.True(sends < writes / 10, $"{writes} writes made behind a send in flight took {sends} more sends");
        Assert.InRange(answer.DiscardedBytes - total, 10, 200);
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

    [Theory]
    [InlineData(64 * 1024, 63)]
    [InlineData(0, 0)]
    public async Task A_small_write_waits_only_once_more_than_MaxResponseBufferSize_is_unsent(int cap, int writesBeforeTheWait)
    {
        var observed = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            var body = Assert.IsType<StreamingResponseBodyFeature>(context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>());
            var piece = new byte[1024];
            var queuedWrites = 0; // writes since the socket is full: each joins the send in flight
            while (true)
            {
                var sends = body.SendCount;
                var write = context.Response.Body.WriteAsync(piece);
                var startedASend = body.SendCount > sends;
                if (!write.IsCompleted)
                {
                    observed.SetResult(queuedWrites);
                    await write;
                    return;
                }

                await write;
                queuedWrites += startedASend ? 0 : 1;
            }
        }), options => options.MaxResponseBufferSize = cap);

        var invocation = Api.Enqueue(TestEvents.FunctionUrl());
        invocation.DiscardBody = true;
        invocation.HoldBody(); // the reader stops: sends go through until the socket is full, then one stays in flight
        var answer = await invocation.Answer.Within();

        // 1 KiB in the send in flight plus 63 queued is the cap; the next write waits. With 0, the stuck one waits.
        Assert.Equal(writesBeforeTheWait, await observed.Task.Within());
        invocation.ReleaseBody();
        await answer.Completed.Within();
    }

    [Fact]
    public async Task A_large_write_is_sent_from_the_callers_memory_and_completes_once_the_socket_took_it()
    {
        const int total = 100_000;
        var data = Enumerable.Range(0, total).Select(i => (byte)(i % 251)).ToArray();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            await context.Response.Body.WriteAsync("head;"u8.ToArray());
            await context.Response.Body.WriteAsync(data);
            await release.Task.Within();
        }));

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.ReadPreludeAsync().Within();

        // Both writes went out while the app still waits, no flush needed; the large one as one chunk.
        Assert.Equal("head;"u8.ToArray(), await answer.ReadChunkAsync().Within());
        Assert.Equal(data, await answer.ReadChunkAsync().Within());
        release.SetResult();
        Assert.Empty(await answer.ReadBodyToEndAsync().Within());
        Assert.Equal([5, total], answer.ChunkSizes.Skip(1));
        Assert.EndsWith("\r\n0\r\n\r\n", Encoding.ASCII.GetString(answer.RawChunkedBody), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_cap_small_writes_never_wait_but_a_large_one_waits_for_the_reader()
    {
        var observed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var large = new byte[64 * 1024 * 1024]; // more than any socket buffer takes
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            var small = new byte[1024];
            var smallWritesThatWaited = 0;
            for (var i = 0; i < 1024; i++)
            {
                var smallWrite = context.Response.Body.WriteAsync(small);
                smallWritesThatWaited += smallWrite.IsCompleted ? 0 : 1;
                await smallWrite;
            }

            // Copied writes could complete at once; a write sent from the caller's memory cannot before it was sent.
            var write = context.Response.Body.WriteAsync(large);
            observed.SetResult($"{smallWritesThatWaited} {write.IsCompleted}");
            await write;
        }), options => options.MaxResponseBufferSize = null);

        var invocation = Api.Enqueue(TestEvents.FunctionUrl());
        invocation.DiscardBody = true;
        invocation.HoldBody();
        var answer = await invocation.Answer.Within();

        Assert.Equal("0 False", await observed.Task.Within());
        invocation.ReleaseBody();
        await answer.Completed.Within();
        Assert.InRange(answer.DiscardedBytes - (1024 * 1024 + large.Length), 10, 200);
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
