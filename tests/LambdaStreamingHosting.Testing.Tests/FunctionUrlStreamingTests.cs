using System.Net;
using System.Text;
using static LambdaStreamingHosting.Testing.Tests.TestSupport;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>A streamed answer, written by the raw-socket runtime client, as the Function URL client sees it.</summary>
public class FunctionUrlStreamingTests
{
    [Fact]
    public async Task Streamed_answer_reaches_the_client_chunk_by_chunk_with_status_headers_and_cookies()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var firstChunkSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var function = AnswerOnceAsync(runtime, async answer =>
        {
            // The prelude and its delimiter split at odd places: one byte per chunk.
            await answer.WriteBytewiseAsync(RawRuntimeClient.Prelude("""{"statusCode":201,"headers":{"content-type":"text/plain","x-a":"1, 2"},"cookies":["a=1; Path=/","b=2; HttpOnly"]}"""));
            await answer.WriteChunkAsync("first|");
            await firstChunkSeen.Task.WaitAsync(Patience); // the client must see it before the function goes on
            await answer.WriteChunkAsync("second");
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/stream");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.ToString());
        Assert.Equal("1, 2", string.Join(", ", response.Headers.GetValues("x-a")));
        Assert.Equal(["a=1; Path=/", "b=2; HttpOnly"], response.Headers.GetValues("Set-Cookie"));
        var body = await response.Content.ReadAsStreamAsync();
        Assert.Equal("first|", await ReadExactlyAsync(body, 6));
        firstChunkSeen.SetResult();
        Assert.Equal("second", await new StreamReader(body).ReadToEndAsync());

        var reply = await function.WaitAsync(Patience);
        Assert.Equal(202, reply.Status);
        Assert.Equal("""{"status":"OK"}""", reply.Text);
        var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
        Assert.Equal(201, record.StatusCode);
        Assert.Equal(12, record.ResponseBytes);
        Assert.True(record.Streamed);
        Assert.Null(record.ErrorType);
        Assert.NotNull(record.TimeToFirstByte);
        Assert.Empty(emulator.ProtocolViolations);
    }

    [Fact]
    public async Task Prelude_and_body_merged_into_one_chunk_work_too()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = AnswerOnceAsync(runtime, async answer =>
        {
            await answer.WriteChunkAsync([.. RawRuntimeClient.Prelude("""{"statusCode":404}"""), .. "gone"u8.ToArray()]);
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("gone", await response.Content.ReadAsStringAsync());
        Assert.Equal(202, (await function.WaitAsync(Patience)).Status);
    }

    [Fact]
    public async Task Bodyless_answer_with_prelude_and_delimiter_ends_the_response()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = AnswerOnceAsync(runtime, async answer =>
        {
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":204}"""));
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        Assert.Equal(202, (await function.WaitAsync(Patience)).Status);
    }

    [Fact]
    public async Task Error_trailers_after_the_body_started_abort_the_client_connection()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var partSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var function = Task.Run(async () =>
        {
            var invocation = await runtime.NextAsync();
            await using var answer = await runtime.BeginStreamAsync(invocation.RequestId);
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200}"""));
            await answer.WriteChunkAsync("partial");
            await partSeen.Task.WaitAsync(Patience);
            return await answer.EndAsync(
                ("Lambda-Runtime-Function-Error-Type", "Runtime.UnhandledException"),
                ("Lambda-Runtime-Function-Error-Body", RawRuntimeClient.ErrorTrailerBody("Runtime.UnhandledException", "boom mid-stream")));
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStreamAsync();
        Assert.Equal("partial", await ReadExactlyAsync(body, 7));
        partSeen.SetResult();
        await Assert.ThrowsAnyAsync<IOException>(() => body.CopyToAsync(Stream.Null).WaitAsync(Patience));

        Assert.Equal(202, (await function.WaitAsync(Patience)).Status);
        var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
        Assert.Equal("Runtime.UnhandledException", record.ErrorType);
        Assert.Equal("boom mid-stream", record.ErrorMessage);
        Assert.True(record.ClientAborted);
        Assert.Equal(7, record.ResponseBytes);
    }

    [Fact]
    public async Task Error_trailers_before_any_prelude_give_the_client_502()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = Task.Run(async () =>
        {
            var invocation = await runtime.NextAsync();
            await using var answer = await runtime.BeginStreamAsync(invocation.RequestId, contentType: "application/octet-stream");
            return await answer.EndAsync(("Lambda-Runtime-Function-Error-Type", "Function.Failed"));
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.StartsWith("Function.Failed", response.Headers.GetValues("x-lambda-emulator-error").Single());
        Assert.Equal(202, (await function.WaitAsync(Patience)).Status);
    }

    [Fact]
    public async Task Without_the_integration_content_type_the_client_gets_200_with_the_posts_content_type_and_the_bytes_verbatim()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = Task.Run(async () =>
        {
            var invocation = await runtime.NextAsync();
            await using var answer = await runtime.BeginStreamAsync(invocation.RequestId, contentType: "text/csv");
            await answer.WriteChunkAsync("""{"statusCode":500}""");
            await answer.WriteChunkAsync("\0\0\0\0\0\0\0\0a,b");
            return await answer.EndAsync();
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("{\"statusCode\":500}\0\0\0\0\0\0\0\0a,b", await response.Content.ReadAsStringAsync());
        Assert.Equal(202, (await function.WaitAsync(Patience)).Status);
    }

    [Fact]
    public async Task Content_length_in_the_prelude_is_a_502_and_a_violation()
    {
        var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = AnswerOnceAsync(runtime, async answer =>
        {
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200,"headers":{"Content-Length":"5"}}"""));
            await answer.WriteChunkAsync("hello");
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("Content-Length", response.Headers.GetValues("x-lambda-emulator-error").Single());
        await function.WaitAsync(Patience);
        var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
        Assert.Equal("Runtime.ProtocolViolation", record.ErrorType);
        var violation = Assert.Single(await DisposeExpectingViolationsAsync(emulator));
        Assert.Contains("The prelude sets 'Content-Length'", violation);
    }

    [Fact]
    public async Task Multi_value_headers_in_a_function_url_prelude_answer_500()
    {
        var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = AnswerOnceAsync(runtime, async answer =>
        {
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200,"multiValueHeaders":{"x":["1","2"]}}"""));
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        await function.WaitAsync(Patience);
        Assert.Contains("multiValueHeaders", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Fact]
    public async Task Set_cookie_in_prelude_headers_is_a_violation_in_strict_mode_and_passes_otherwise()
    {
        foreach (var strict in new[] { true, false })
        {
            var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Strict = strict });
            var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
            using var http = Client(emulator.FunctionUrl);
            var function = Task.Run(async () =>
            {
                var invocation = await runtime.NextAsync();
                await using var answer = await runtime.BeginStreamAsync(invocation.RequestId);
                await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200,"headers":{"Set-Cookie":"a=1"}}"""));
                return await answer.EndAsync();
            });

            using var response = await SendAsync(http, HttpMethod.Get, "/");
            await function.WaitAsync(Patience);
            var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
            Assert.Contains("Set-Cookie was sent in headers", Assert.Single(record.ProtocolViolations));
            if (strict)
            {
                Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
                await DisposeExpectingViolationsAsync(emulator);
            }
            else
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal("a=1", response.Headers.GetValues("Set-Cookie").Single());
                await emulator.DisposeAsync(); // lenient: no exception
            }
        }
    }

    [Fact]
    public async Task Header_injection_in_the_prelude_is_refused()
    {
        var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = AnswerOnceAsync(runtime, async answer =>
        {
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200,"headers":{"x-a":"1\r\nx-injected: yes"}}"""));
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.False(response.Headers.Contains("x-injected"));
        await function.WaitAsync(Patience);
        Assert.Contains("header injection", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Fact]
    public async Task Undeclared_trailers_are_a_violation()
    {
        var headersSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = Task.Run(async () =>
        {
            var invocation = await runtime.NextAsync();
            await using var answer = await runtime.BeginStreamAsync(invocation.RequestId, declaredTrailers: null);
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200}"""));
            await answer.WriteChunkAsync("x");
            await headersSeen.Task.WaitAsync(Patience);
            return await answer.EndAsync(
                ("Lambda-Runtime-Function-Error-Type", "Runtime.UnhandledException"),
                ("Lambda-Runtime-Function-Error-Body", RawRuntimeClient.ErrorTrailerBody("Runtime.UnhandledException", "late")));
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        var body = await response.Content.ReadAsStreamAsync();
        Assert.Equal("x", await ReadExactlyAsync(body, 1));
        headersSeen.SetResult();
        await Assert.ThrowsAnyAsync<IOException>(() => body.CopyToAsync(Stream.Null).WaitAsync(Patience));
        await function.WaitAsync(Patience);
        var violations = await DisposeExpectingViolationsAsync(emulator);
        Assert.Equal(2, violations.Count);
        Assert.All(violations, v => Assert.Contains("was not declared in the request's Trailer header", v));
    }

    [Fact]
    public async Task A_stream_that_ends_before_the_delimiter_is_a_502_and_a_violation()
    {
        var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = AnswerOnceAsync(runtime, async answer =>
        {
            await answer.WriteChunkAsync("""{"statusCode":204}""");
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        await function.WaitAsync(Patience);
        Assert.Contains("ended before the prelude's delimiter", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Fact]
    public async Task Streamed_responses_over_the_limit_are_cut_and_the_runtime_gets_413()
    {
        var headersSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { MaxStreamedResponseBytes = 64 * 1024 });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = Task.Run(async () =>
        {
            var invocation = await runtime.NextAsync();
            await using var answer = await runtime.BeginStreamAsync(invocation.RequestId);
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200}"""));
            await answer.WriteChunkAsync(new byte[40 * 1024]);
            await headersSeen.Task.WaitAsync(Patience);
            await answer.WriteChunkAsync(new byte[40 * 1024]);
            return await answer.ReadReplyAsync();
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStreamAsync();
        await ReadExactlyAsync(body, 40 * 1024);
        headersSeen.SetResult();
        await Assert.ThrowsAnyAsync<IOException>(() => body.CopyToAsync(Stream.Null).WaitAsync(Patience));
        var reply = await function.WaitAsync(Patience);
        Assert.Equal(413, reply.Status);
        Assert.Contains("RequestEntityTooLarge", reply.Text);
        var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
        Assert.Equal("Function.ResponseSizeTooLarge", record.ErrorType);
        Assert.True(record.ClientAborted);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_function_that_dies_mid_stream_aborts_the_client_and_resets_the_environment(bool orderlyClose)
    {
        var environment = new RecordingEnvironment();
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = environment });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = Task.Run(async () =>
        {
            var invocation = await runtime.NextAsync();
            var answer = await runtime.BeginStreamAsync(invocation.RequestId);
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200}"""));
            await answer.WriteChunkAsync("abc");
            return answer;
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        var body = await response.Content.ReadAsStreamAsync();
        Assert.Equal("abc", await ReadExactlyAsync(body, 3));
        // A reset connection (a crash) or an orderly close (a process that exits: the body just stops) are both a crash,
        // not a malformed body.
        var answer = await function.WaitAsync(Patience);
        if (orderlyClose)
        {
            answer.Exit();
        }
        else
        {
            answer.Crash();
        }

        await Assert.ThrowsAnyAsync<IOException>(() => body.CopyToAsync(Stream.Null).WaitAsync(Patience));
        Assert.Equal("Runtime.ExitError", await environment.Reset.Task.WaitAsync(Patience));
        var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
        Assert.Equal("Runtime.ExitError", record.ErrorType);
        Assert.Empty(emulator.ProtocolViolations);
    }

    [Fact]
    public async Task A_body_after_status_204_is_dropped_and_flagged()
    {
        var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = AnswerOnceAsync(runtime, async answer =>
        {
            await answer.WriteChunkAsync([.. RawRuntimeClient.Prelude("""{"statusCode":204}"""), .. "not allowed"u8.ToArray()]);
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        Assert.Equal(202, (await function.WaitAsync(Patience)).Status);
        Assert.Contains("could not be sent to the client", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Fact]
    public async Task A_204_with_a_stray_body_reaches_the_client_while_the_function_goes_on()
    {
        var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var statusSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var function = AnswerOnceAsync(runtime, async answer =>
        {
            await answer.WriteChunkAsync([.. RawRuntimeClient.Prelude("""{"statusCode":204}"""), .. "not allowed"u8.ToArray()]);
            await statusSeen.Task.WaitAsync(Patience); // the client must have its status before the function ends
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/").WaitAsync(Patience);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        statusSeen.SetResult();
        Assert.Equal(202, (await function.WaitAsync(Patience)).Status);
        Assert.Contains("could not be sent to the client", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Theory]
    [InlineData(700, 700)]          // a small answer: prelude, body and end in one piece, as a runtime sends it
    [InlineData(1_000_000, 4096)]   // a large one in many chunks, all at hand at once
    public async Task An_answer_posted_in_one_write_reaches_the_client_complete_and_in_order(int bodyBytes, int chunkBytes)
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var body = NumberedText(bodyBytes);
        var function = Task.Run(async () =>
        {
            var invocation = await runtime.NextAsync();
            var prelude = RawRuntimeClient.Prelude("""{"statusCode":200,"headers":{"content-type":"text/plain","x-a":"1"},"cookies":["a=1"]}""");
            return await runtime.PostStreamInOneWriteAsync(invocation.RequestId, [.. prelude, .. Encoding.ASCII.GetBytes(body)], chunkBytes);
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/small");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("1", Assert.Single(response.Headers.GetValues("x-a")));
        Assert.Equal("a=1", Assert.Single(response.Headers.GetValues("Set-Cookie")));
        Assert.Equal(body, await response.Content.ReadAsStringAsync());

        Assert.Equal(202, (await function.WaitAsync(Patience)).Status);
        var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
        Assert.Equal(bodyBytes, record.ResponseBytes);
        Assert.Null(record.ErrorType);
        Assert.False(record.ClientAborted);
        Assert.Empty(emulator.ProtocolViolations);
    }

    [Fact]
    public async Task Error_trailers_in_the_same_write_as_the_body_deliver_the_whole_body_then_cut_the_client()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var body = NumberedText(5000);
        var function = Task.Run(async () =>
        {
            var invocation = await runtime.NextAsync();
            return await runtime.PostStreamInOneWriteAsync(
                invocation.RequestId,
                [.. RawRuntimeClient.Prelude("""{"statusCode":200}"""), .. Encoding.ASCII.GetBytes(body)],
                1000,
                ("Lambda-Runtime-Function-Error-Type", "Runtime.UnhandledException"),
                ("Lambda-Runtime-Function-Error-Body", RawRuntimeClient.ErrorTrailerBody("Runtime.UnhandledException", "boom at the end")));
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var stream = await response.Content.ReadAsStreamAsync();
        Assert.Equal(body, await ReadExactlyAsync(stream, body.Length));
        await Assert.ThrowsAnyAsync<IOException>(() => stream.CopyToAsync(Stream.Null).WaitAsync(Patience));

        Assert.Equal(202, (await function.WaitAsync(Patience)).Status);
        var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
        Assert.Equal("Runtime.UnhandledException", record.ErrorType);
        Assert.Equal("boom at the end", record.ErrorMessage);
        Assert.True(record.ClientAborted);
        Assert.Equal(body.Length, record.ResponseBytes);
    }

    [Fact]
    public async Task The_status_and_headers_reach_the_client_as_soon_as_the_prelude_arrives()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var headersSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var function = AnswerOnceAsync(runtime, async answer =>
        {
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":202,"headers":{"x-early":"yes"}}"""));
            await headersSeen.Task.WaitAsync(Patience); // no body yet: the client must already have the head
            await answer.WriteChunkAsync("late body");
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/events").WaitAsync(Patience);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("yes", Assert.Single(response.Headers.GetValues("x-early")));
        headersSeen.SetResult();
        Assert.Equal("late body", await response.Content.ReadAsStringAsync());
        Assert.Equal(202, (await function.WaitAsync(Patience)).Status);
    }

    /// <summary><paramref name="length"/> characters of numbered 10-character fields: any loss or reordering shows.</summary>
    private static string NumberedText(int length) =>
        string.Concat(Enumerable.Range(0, length / 10).Select(i => i.ToString("D9", System.Globalization.CultureInfo.InvariantCulture) + "|"));

    /// <summary>The function side of most tests: takes one invocation, streams what <paramref name="write"/> writes, ends cleanly.</summary>
    private static Task<RawRuntimeClient.Reply> AnswerOnceAsync(RawRuntimeClient runtime, Func<RawRuntimeClient.StreamedAnswer, Task> write) =>
        Task.Run(async () =>
        {
            var invocation = await runtime.NextAsync();
            await using var answer = await runtime.BeginStreamAsync(invocation.RequestId);
            await write(answer);
            return await answer.EndAsync();
        });
}
