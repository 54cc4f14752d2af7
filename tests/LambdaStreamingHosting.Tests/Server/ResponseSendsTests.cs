using System.Text;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// How many socket sends a streamed answer takes, counted by the server itself (a fake Runtime API cannot tell one
/// send from two that arrive together), and the Content-Length rules that let the last chunk ride with the body.
/// </summary>
public sealed class ResponseSendsTests : FakeRuntimeApiTest
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _observed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TestLogs _logs = new();

    [Fact]
    public async Task StartAsync_sends_nothing_and_the_prelude_goes_with_the_first_body_bytes()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            var sends = SendsOf(context);
            context.Response.ContentType = "text/plain";
            await context.Response.StartAsync();
            var afterStart = sends();
            await context.Response.WriteAsync("hello");
            var afterWrite = sends();
            context.Response.OnCompleted(() =>
            {
                _observed.SetResult($"{afterStart} {afterWrite} {sends()}");
                return Task.CompletedTask;
            });
        }));

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        // Nothing on StartAsync; head, prelude and body in one send; the last chunk alone when the app returned.
        Assert.Equal("0 1 2", await _observed.Task.Within());
        var preludeChunk = """{"statusCode":200,"headers":{"Content-Type":"text/plain"}}""" + "\0\0\0\0\0\0\0\0";
        Assert.Equal($"{preludeChunk.Length:X}\r\n{preludeChunk}\r\n5\r\nhello\r\n0\r\n\r\n", Encoding.UTF8.GetString(answer.RawChunkedBody));
    }

    [Fact]
    public async Task A_body_that_reached_its_Content_Length_ends_the_stream_in_the_same_send()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            var sends = SendsOf(context);
            context.Response.OnCompleted(() =>
            {
                _observed.SetResult(sends().ToString(System.Globalization.CultureInfo.InvariantCulture));
                return Task.CompletedTask;
            });
            await Results.Text("hello").ExecuteAsync(context); // sets Content-Length: 5
            await _release.Task.Within();
        }));

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();

        // The stream is complete while the app still runs: the last chunk went with the body.
        await answer.Completed.Within();
        _release.SetResult();
        Assert.Equal("1", await _observed.Task.Within());
        Assert.EndsWith("\r\n5\r\nhello\r\n0\r\n\r\n", Encoding.UTF8.GetString(answer.RawChunkedBody), StringComparison.Ordinal);
        Assert.Empty(answer.Trailers);
    }

    [Fact]
    public async Task Without_Content_Length_a_write_goes_out_at_once_and_the_last_chunk_when_the_app_returns()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            var sends = SendsOf(context);
            await context.Response.Body.WriteAsync("abc"u8.ToArray());
            var afterWrite = sends();
            context.Response.OnCompleted(() =>
            {
                _observed.SetResult($"{afterWrite} {sends()}");
                return Task.CompletedTask;
            });
        }));

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        // As on Kestrel, a write without flush is on the wire before the write returns (head, prelude and body in one
        // send); nothing says the body is over until the app returns, so the last chunk is a send of its own.
        Assert.Equal("1 2", await _observed.Task.Within());
        Assert.EndsWith("\r\n3\r\nabc\r\n0\r\n\r\n", Encoding.UTF8.GetString(answer.RawChunkedBody), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_large_write_is_one_send_and_one_chunk_with_what_was_written_unflushed()
    {
        var large = new byte[64 * 1024];
        Random.Shared.NextBytes(large);
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            var sends = SendsOf(context);
            await context.Response.Body.WriteAsync("x"u8.ToArray()); // head, prelude and "x": send 1
            "small;"u8.CopyTo(context.Response.BodyWriter.GetSpan(6));
            context.Response.BodyWriter.Advance(6); // not flushed: stays
            var before = sends();
            await context.Response.Body.WriteAsync(large);
            await context.Response.Body.FlushAsync(); // nothing left to send
            _observed.SetResult($"{before} {sends()}");
        }));

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.ReadPreludeAsync().Within();
        var body = await answer.ReadBodyToEndAsync().Within();

        Assert.Equal("1 2", await _observed.Task.Within());
        Assert.Equal([.. "x"u8.ToArray(), .. "small;"u8.ToArray(), .. large], body);
        Assert.Equal([1, 6 + large.Length], answer.ChunkSizes.Skip(1));
    }

    [Fact]
    public async Task Writing_more_than_Content_Length_throws_like_Kestrel_and_sends_none_of_it()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            context.Response.ContentLength = 3;
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.Response.WriteAsync("abcd"));
            _observed.SetResult(error.Message);
            throw error;
        }), logs: _logs);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        Assert.Equal("Response Content-Length mismatch: too many bytes written (4 of 3).", await _observed.Task.Within());
        await answer.ReadPreludeAsync().Within();
        Assert.Empty(await answer.ReadBodyToEndAsync().Within());
        Assert.Equal("InvalidOperationException", answer.Trailers["Lambda-Runtime-Function-Error-Type"]);
    }

    [Fact]
    public async Task Buffered_answers_refuse_more_than_Content_Length_too_and_fail_cleanly()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            context.Response.ContentLength = 3;
            await context.Response.WriteAsync("abcd");
        }), options => options.InvokeMode = LambdaInvokeMode.Buffered, logs: _logs);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        var document = System.Text.Json.JsonDocument.Parse(answer.Request.Body).RootElement;
        Assert.Equal(500, document.GetProperty("statusCode").GetInt32());
        Assert.DoesNotContain("abc", answer.Request.BodyText, StringComparison.Ordinal);
        Assert.Contains(_logs.Entries, entry => entry.Exception?.Message == "Response Content-Length mismatch: too many bytes written (4 of 3).");
    }

    [Fact]
    public async Task A_HEAD_answer_with_Content_Length_drops_the_body_without_complaint()
    {
        App = await TestApp.StartAsync(Api, app => app.MapMethods("/", ["HEAD"], async context =>
        {
            context.Response.ContentLength = 5;
            await context.Response.WriteAsync("hello");
            await context.Response.WriteAsync(" and more than declared");
            _observed.SetResult("written");
        }));

        var answer = await Api.Enqueue(TestEvents.FunctionUrl("HEAD", "/")).Answer.Within();
        await answer.Completed.Within();

        Assert.Equal("written", await _observed.Task.Within());
        await answer.ReadPreludeAsync().Within();
        Assert.Empty(await answer.ReadBodyToEndAsync().Within());
        Assert.Empty(answer.Trailers);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_streamed_body_shorter_than_its_Content_Length_fails_like_Kestrel(bool completeAsync)
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            context.Response.ContentLength = 10;
            await context.Response.WriteAsync("short");
            if (completeAsync)
            {
                var error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.Response.CompleteAsync());
                _observed.SetResult(error.Message);
            }
        }), logs: _logs);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.ReadPreludeAsync().Within();

        Assert.Equal("short", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
        Assert.Equal("InvalidOperationException", answer.Trailers["Lambda-Runtime-Function-Error-Type"]);
        const string message = "Response Content-Length mismatch: too few bytes written (5 of 10).";
        Assert.Contains(_logs.Entries, entry => entry.Exception?.Message == message);
        if (completeAsync)
        {
            Assert.Equal(message, await _observed.Task.Within());
        }
    }

    [Theory]
    [InlineData(LambdaInvokeMode.ResponseStream)]
    [InlineData(LambdaInvokeMode.Buffered)]
    public async Task A_declared_body_never_written_becomes_a_500_while_nothing_was_sent(LambdaInvokeMode mode)
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", context =>
        {
            context.Response.ContentLength = 10;
            context.Response.Headers["X-Dropped"] = "1";
            return Task.CompletedTask;
        }), options => options.InvokeMode = mode, logs: _logs);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        var status = mode == LambdaInvokeMode.Buffered
            ? System.Text.Json.JsonDocument.Parse(answer.Request.Body).RootElement
            : await answer.ReadPreludeAsync().Within();
        Assert.Equal(500, status.GetProperty("statusCode").GetInt32());
        Assert.False(status.TryGetProperty("headers", out var headers) && headers.TryGetProperty("X-Dropped", out _));
        Assert.Empty(answer.Trailers);
        Assert.Contains(_logs.Entries, entry => entry.Exception?.Message == "Response Content-Length mismatch: too few bytes written (0 of 10).");
    }

    [Fact]
    public async Task After_the_Content_Length_was_reached_more_bytes_throw_and_an_error_is_only_logged()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            context.Response.ContentLength = 2;
            await context.Response.WriteAsync("ok");
            await context.Response.WriteAsync(""); // nothing more is fine
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.Response.Body.WriteAsync("!"u8.ToArray()).AsTask());
            _observed.SetResult(error.Message);
            throw new InvalidOperationException("failed after the body was complete");
        }), logs: _logs);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.ReadPreludeAsync().Within();

        Assert.Equal("ok", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
        Assert.Equal("Response Content-Length mismatch: too many bytes written (3 of 2).", await _observed.Task.Within());
        Assert.Empty(answer.Trailers);
        await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within(); // the loop went on to the next invocation
        Assert.Contains(_logs.Entries, entry => entry.Exception?.Message == "failed after the body was complete");
    }

    [Fact]
    public async Task A_buffered_answer_whose_body_was_complete_stands_when_the_app_fails_afterwards()
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            context.Response.ContentType = "text/plain";
            context.Response.ContentLength = 2;
            await context.Response.WriteAsync("ok");
            throw new InvalidOperationException("failed after the body was complete");
        }), options => options.InvokeMode = LambdaInvokeMode.Buffered, logs: _logs);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        // As streamed (and on Kestrel, where the complete body is on the wire): the answer stands, the error is logged.
        var document = System.Text.Json.JsonDocument.Parse(answer.Request.Body).RootElement;
        Assert.Equal(200, document.GetProperty("statusCode").GetInt32());
        Assert.Equal("ok", document.GetProperty("body").GetString());
        Assert.Contains(_logs.Entries, entry => entry.Exception?.Message == "failed after the body was complete");
    }

    [Fact]
    public async Task SendFileAsync_with_the_files_Content_Length_ends_with_its_last_bytes()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sends-{Guid.NewGuid():N}.bin");
        var content = new byte[40_000];
        Random.Shared.NextBytes(content);
        await File.WriteAllBytesAsync(path, content);
        try
        {
            App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
            {
                context.Response.ContentLength = content.Length;
                await context.Response.SendFileAsync(path);
                _observed.SetResult("sent");
            }));

            var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
            await answer.ReadPreludeAsync().Within();

            Assert.Equal(content, await answer.ReadBodyToEndAsync().Within());
            Assert.Equal("sent", await _observed.Task.Within());
            Assert.Empty(answer.Trailers);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Buffered_answers_keep_large_writes_whole(bool disableBuffering)
    {
        var large = Enumerable.Range(0, 50_000).Select(i => (byte)('a' + (i % 26))).ToArray();
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            if (disableBuffering)
            {
                context.Features.GetRequiredFeature<IHttpResponseBodyFeature>().DisableBuffering();
            }

            context.Response.ContentType = "text/plain";
            await context.Response.Body.WriteAsync("first;"u8.ToArray());
            await context.Response.Body.WriteAsync(large);
        }), options => options.InvokeMode = LambdaInvokeMode.Buffered);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        var document = System.Text.Json.JsonDocument.Parse(answer.Request.Body).RootElement;
        Assert.Equal("first;" + Encoding.ASCII.GetString(large), document.GetProperty("body").GetString());
    }

    [Theory]
    [InlineData(true, 3_000_000)]
    [InlineData(false, 4 * 1024 * 1024)]
    public async Task A_buffered_body_of_declared_length_takes_one_buffer_of_that_size(bool declared, int capacity)
    {
        // Without a Content-Length the buffer doubles from 4 KiB as the body grows (each step a copy); with one, the
        // buffer is sized once when the response starts.
        const int Length = 3_000_000;
        var piece = Enumerable.Range(0, 64 * 1024).Select(i => (byte)('a' + (i % 26))).ToArray();
        var observed = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            var body = Assert.IsType<BufferedResponseBodyFeature>(context.Features.Get<IHttpResponseBodyFeature>());
            context.Response.OnCompleted(() =>
            {
                observed.SetResult(body.BodyCapacity);
                return Task.CompletedTask;
            });
            context.Response.ContentType = "application/octet-stream";
            if (declared)
            {
                context.Response.ContentLength = Length;
            }

            for (var written = 0; written < Length; written += piece.Length)
            {
                await context.Response.Body.WriteAsync(piece.AsMemory(0, Math.Min(piece.Length, Length - written)));
            }
        }), options => options.InvokeMode = LambdaInvokeMode.Buffered);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        var document = System.Text.Json.JsonDocument.Parse(answer.Request.Body).RootElement;
        var bytes = Convert.FromBase64String(document.GetProperty("body").GetString()!);
        Assert.Equal(Length, bytes.Length);
        Assert.Equal(piece[..100], bytes[..100]);
        Assert.Equal(piece.AsSpan(0, 100).ToArray(), bytes.AsSpan(Length - (Length % piece.Length), 100).ToArray());
        Assert.Equal(capacity, await observed.Task.Within());
    }

    [Theory]
    [InlineData(LambdaInvokeMode.ResponseStream, "clean", "Clean 200 5 True -")]
    [InlineData(LambdaInvokeMode.ResponseStream, "throw-before-start", "FailedBeforeStart 500 0 True -")]
    [InlineData(LambdaInvokeMode.ResponseStream, "throw-after-start", "FailedAfterStart 200 8 True TimeoutException")]
    [InlineData(LambdaInvokeMode.ResponseStream, "abort-before-start", "Aborted 200 0 False LambdaStreaming.RequestAborted")]
    [InlineData(LambdaInvokeMode.ResponseStream, "short", "ShortOfContentLength 200 5 True InvalidOperationException")]
    [InlineData(LambdaInvokeMode.Buffered, "clean", "Clean 200 5 True -")]
    [InlineData(LambdaInvokeMode.Buffered, "throw-after-start", "FailedAfterStart 500 0 True -")]
    [InlineData(LambdaInvokeMode.Buffered, "abort-before-start", "Aborted 200 0 False LambdaStreaming.RequestAborted")]
    [InlineData(LambdaInvokeMode.Buffered, "short", "ShortOfContentLength 500 0 True -")]
    public async Task The_outcome_says_how_the_response_ended_for_the_invocation_loop(LambdaInvokeMode mode, string ending, string expected)
    {
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            var body = Assert.IsAssignableFrom<ResponseBodyFeature>(context.Features.Get<IHttpResponseBodyFeature>());
            context.Response.OnCompleted(() =>
            {
                // OnCompleted runs once the invocation was answered: the outcome is there.
                var outcome = body.Outcome;
                _observed.SetResult($"{outcome.Ending} {outcome.StatusCode} {outcome.BodyBytes} {outcome.FirstByteTimestamp > 0} {outcome.ErrorType ?? "-"}");
                return Task.CompletedTask;
            });
            switch (ending)
            {
                case "clean":
                    await context.Response.WriteAsync("hello");
                    break;
                case "throw-before-start":
                    throw new InvalidOperationException("before");
                case "throw-after-start":
                    await context.Response.WriteAsync("partial;");
                    throw new TimeoutException("after");
                case "abort-before-start":
                    context.Abort();
                    break;
                case "short":
                    context.Response.ContentLength = 10;
                    await context.Response.WriteAsync("short");
                    break;
            }
        }), options => options.InvokeMode = mode, logs: _logs);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        Assert.Equal(expected, await _observed.Task.Within());
    }

    [Theory]
    [InlineData(LambdaInvokeMode.ResponseStream, "The application failed after the response started; the stream ends with the error trailers.")]
    [InlineData(LambdaInvokeMode.Buffered, "An unhandled exception was thrown by the application.")]
    public async Task A_failure_after_the_start_is_logged_as_what_the_client_gets(LambdaInvokeMode mode, string logged)
    {
        // Streamed, the bytes written are on their way and the error trailers end the stream; buffered, nothing left
        // the function, so the client gets a clean 500 and the log must not speak of a stream.
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            await context.Response.WriteAsync("partial;");
            throw new TimeoutException("after");
        }), options => options.InvokeMode = mode, logs: _logs);

        var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
        await answer.Completed.Within();

        var entry = Assert.Single(_logs.Entries, entry => entry.Exception is TimeoutException);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Equal(logged, entry.Message);
    }

    /// <summary>Reads the streamed response's send count (the server's own counter of socket sends on the Runtime API).</summary>
    private static Func<long> SendsOf(HttpContext context)
    {
        var body = Assert.IsType<StreamingResponseBodyFeature>(context.Features.Get<IHttpResponseBodyFeature>());
        return () => body.SendCount;
    }
}
