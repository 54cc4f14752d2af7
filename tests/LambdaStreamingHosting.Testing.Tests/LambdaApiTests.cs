using System.Net;
using System.Text;
using System.Text.Json;
using LambdaStreamingHosting.Callers;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>
/// The emulator's Lambda API (<c>Invoke</c>, <c>InvokeWithResponseStream</c>) over real sockets with a plain HTTP client:
/// Lambda's error shapes, what the function is told, and an HTTP-streaming function read through
/// <see cref="LambdaHttpResponse"/> as a caller using an AWS SDK would read it. The AWS SDK itself drives these APIs in
/// the runner's tests (LambdaApiSdkTests).
/// </summary>
public sealed class LambdaApiTests
{
    private const string InvokePath = "/2015-03-31/functions/function/invocations";
    private const string StreamPath = "/2021-11-15/functions/function/response-streaming-invocations";

    [Fact]
    public async Task An_HTTP_streaming_function_invoked_with_InvokeWithResponseStream_reads_back_through_LambdaHttpResponse()
    {
        await using var factory = new LambdaApplicationFactory<Program>();
        using var api = TestSupport.Client(factory.Emulator.LambdaApiUrl);

        using var response = await PostAsync(api, StreamPath, UrlEvent("/cookies"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/vnd.amazon.eventstream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("$LATEST", Assert.Single(response.Headers.GetValues("X-Amz-Executed-Version")));
        var (payload, complete) = Pump(await response.Content.ReadAsStreamAsync());
        await using var http = await LambdaHttpResponse.ReadAsync(payload).WaitAsync(TestSupport.Patience);
        Assert.Equal(200, http.StatusCode);
        Assert.StartsWith("text/plain", http.Headers["content-type"], StringComparison.Ordinal);
        Assert.Equal(2, http.Cookies.Count);
        Assert.StartsWith("session=abc", http.Cookies[0], StringComparison.Ordinal);
        Assert.Equal("two cookies", await new StreamReader(http.Body).ReadToEndAsync());
        Assert.Equal("{}", (await complete).Text);
    }

    [Fact]
    public async Task A_function_that_fails_mid_stream_ends_with_InvokeComplete_and_the_reader_s_body_fails_after_what_was_sent()
    {
        await using var factory = new LambdaApplicationFactory<Program>();
        using var api = TestSupport.Client(factory.Emulator.LambdaApiUrl);

        using var response = await PostAsync(api, StreamPath, UrlEvent("/fail-midway"));
        var (payload, complete) = Pump(await response.Content.ReadAsStreamAsync());
        await using var http = await LambdaHttpResponse.ReadAsync(payload).WaitAsync(TestSupport.Patience);
        var body = new MemoryStream();
        await Assert.ThrowsAsync<IOException>(() => http.Body.CopyToAsync(body));

        Assert.Equal("partial ", Encoding.UTF8.GetString(body.ToArray()));
        var record = Assert.Single(await factory.Emulator.WaitForInvocationsAsync(1));
        using var completion = JsonDocument.Parse((await complete).Payload);
        Assert.NotNull(record.ErrorType);
        Assert.Equal(record.ErrorType, completion.RootElement.GetProperty("ErrorCode").GetString());
        Assert.Equal(200, record.StatusCode);
        Assert.False(record.ClientAborted); // reported in the stream, not by cutting the connection
    }

    [Fact]
    public async Task Invoke_tells_the_function_its_qualified_ARN_and_the_client_context_and_returns_its_error_document_as_sent()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var api = TestSupport.Client(emulator.LambdaApiUrl);
        var context = Convert.ToBase64String(Encoding.UTF8.GetBytes("{\n  \"custom\": { \"line\": \"a\\nb\" }\n}"));

        var sent = PostAsync(api, $"/2015-03-31/functions/{Uri.EscapeDataString(emulator.Options.FunctionArn + ":7")}/invocations", """{"order":42}""",
            ("X-Amz-Client-Context", context), ("X-Amz-Log-Type", "Tail"), ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0000"));
        var invocation = await runtime.NextAsync().WaitAsync(TestSupport.Patience);
        Assert.Equal("""{"order":42}""", invocation.Reply.Text);
        Assert.Equal(emulator.Options.FunctionArn + ":7", invocation.Reply.Header("Lambda-Runtime-Invoked-Function-Arn"));
        Assert.Equal("""{"custom":{"line":"a\nb"}}""", invocation.Reply.Header("Lambda-Runtime-Client-Context"));
        Assert.Equal(202, (await runtime.PostErrorAsync(invocation.RequestId, "OrderNotFound", "no order 42")).Status);

        using var response = await sent.WaitAsync(TestSupport.Patience);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Unhandled", Assert.Single(response.Headers.GetValues("X-Amz-Function-Error")));
        Assert.Equal("7", Assert.Single(response.Headers.GetValues("X-Amz-Executed-Version")));
        Assert.Equal(invocation.RequestId, Assert.Single(response.Headers.GetValues("x-amzn-RequestId")));
        Assert.Equal("""{"errorMessage":"no order 42","errorType":"OrderNotFound","stackTrace":[]}""", await response.Content.ReadAsStringAsync());
        var log = Encoding.UTF8.GetString(Convert.FromBase64String(Assert.Single(response.Headers.GetValues("X-Amz-Log-Result"))));
        Assert.Matches($"^START RequestId: {invocation.RequestId} Version: 7\nEND RequestId: {invocation.RequestId}\nREPORT RequestId: {invocation.RequestId}\tDuration: \\d+\\.\\d\\d ms\tBilled Duration: \\d+ ms\t\n$", log);
        Assert.Equal("OrderNotFound", Assert.Single(await emulator.WaitForInvocationsAsync(1)).ErrorType);
    }

    [Fact]
    public async Task A_buffered_answer_comes_back_whole_from_Invoke_and_as_one_PayloadChunk_from_InvokeWithResponseStream()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var api = TestSupport.Client(emulator.LambdaApiUrl);

        var invoked = PostAsync(api, InvokePath, "{}");
        var first = await runtime.NextAsync().WaitAsync(TestSupport.Patience);
        Assert.Equal(emulator.Options.FunctionArn, first.Reply.Header("Lambda-Runtime-Invoked-Function-Arn"));
        await runtime.PostBufferedAsync(first.RequestId, """{"total":3}""");
        using (var response = await invoked.WaitAsync(TestSupport.Patience))
        {
            Assert.Equal("""{"total":3}""", await response.Content.ReadAsStringAsync());
            Assert.False(response.Headers.Contains("X-Amz-Function-Error"));
            Assert.False(response.Headers.Contains("X-Amz-Log-Result"));
        }

        var streamed = PostAsync(api, StreamPath, "{}");
        var second = await runtime.NextAsync().WaitAsync(TestSupport.Patience);
        await runtime.PostBufferedAsync(second.RequestId, """{"total":4}""");
        using (var response = await streamed.WaitAsync(TestSupport.Patience))
        {
            var events = new EventStreamDecoder(await response.Content.ReadAsStreamAsync());
            var chunk = await events.NextAsync();
            Assert.Equal("PayloadChunk", chunk!.EventType);
            Assert.Equal("event", chunk.Headers[":message-type"]);
            Assert.Equal("""{"total":4}""", chunk.Text);
            Assert.Equal("InvokeComplete", (await events.NextAsync())!.EventType);
            Assert.Null(await events.NextAsync());
        }

        Assert.Empty(emulator.ProtocolViolations);
    }

    [Fact]
    public async Task Event_is_answered_202_before_the_function_runs_and_DryRun_204_without_running_it()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var api = TestSupport.Client(emulator.LambdaApiUrl);

        using (var dryRun = await PostAsync(api, InvokePath, "{}", ("X-Amz-Invocation-Type", "DryRun")))
        {
            Assert.Equal(HttpStatusCode.NoContent, dryRun.StatusCode);
        }

        using (var queued = await PostAsync(api, InvokePath, """{"job":1}""", ("X-Amz-Invocation-Type", "Event")))
        {
            Assert.Equal(HttpStatusCode.Accepted, queued.StatusCode); // the function has not even asked for it yet
        }

        var invocation = await runtime.NextAsync().WaitAsync(TestSupport.Patience);
        Assert.Equal("""{"job":1}""", invocation.Reply.Text);
        Assert.Equal(202, (await runtime.PostBufferedAsync(invocation.RequestId, "null")).Status);
        var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
        Assert.Equal(LambdaFrontDoor.LambdaApi, record.FrontDoor);
        Assert.Equal(202, record.StatusCode);
    }

    [Theory]
    [InlineData("POST", "/2015-03-31/functions/other/invocations", "", "{}", 404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:123456789012:function:other")]
    [InlineData("POST", "/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:function/invocations", "", "{}", 404, "ResourceNotFoundException", "arn:aws:lambda:eu-west-1:")]
    [InlineData("POST", "/2015-03-31/functions/function/invocations", "X-Amz-Invocation-Type: Later", "{}", 400, "InvalidParameterValueException", "Unsupported invocation type 'Later'")]
    [InlineData("POST", StreamPath, "X-Amz-Invocation-Type: Event", "{}", 400, "InvalidParameterValueException", "use RequestResponse, DryRun")]
    [InlineData("POST", "/2015-03-31/functions/function/invocations", "X-Amz-Log-Type: All", "{}", 400, "InvalidParameterValueException", "Unsupported log type 'All'")]
    [InlineData("POST", "/2015-03-31/functions/function/invocations", "X-Amz-Client-Context: bm90IGpzb24=", "{}", 400, "InvalidParameterValueException", "Client context must be a valid Base64-encoded JSON object.")]
    [InlineData("POST", "/2015-03-31/functions/function/invocations?Qualifier=a.b", "", "{}", 400, "ValidationException", "at 'qualifier' failed to satisfy constraint")]
    [InlineData("POST", "/2015-03-31/functions/function:live/invocations?Qualifier=prod", "", "{}", 400, "InvalidParameterValueException", "does not match the specified qualifier")]
    [InlineData("POST", "/2015-03-31/functions/function/invocations", "", "{ not json", 400, "InvalidRequestContentException", "Could not parse request body into json")]
    [InlineData("POST", "/2015-03-31/functions/function/invocations", "", "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30]", 413, "RequestTooLargeException", "Request must be smaller than 64 bytes for the InvokeFunction operation")]
    [InlineData("GET", "/2015-03-31/functions/function/invocations", "", null, 404, "UnknownOperationException", "not GET")]
    [InlineData("POST", "/2015-03-31/functions/function/configuration", "", "{}", 404, "UnknownOperationException", "serves POST")]
    public async Task Bad_calls_get_Lambda_s_error_shape_and_never_reach_the_function(string method, string target, string header, string? body, int status, string errorType, string message)
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { MaxEventBytes = 64 });
        using var api = TestSupport.Client(emulator.LambdaApiUrl);
        using var request = new HttpRequestMessage(new HttpMethod(method), target);
        if (body is not null)
        {
            request.Content = new StringContent(body);
        }

        if (header.Length > 0)
        {
            var (name, value) = (header[..header.IndexOf(':', StringComparison.Ordinal)], header[(header.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim());
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await api.SendAsync(request);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(errorType, Assert.Single(response.Headers.GetValues("x-amzn-ErrorType")));
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("User", error.RootElement.GetProperty("Type").GetString());
        Assert.Contains(message, error.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(emulator.Invocations);
    }

    /// <summary>A Function URL event (payload 2.0) for a GET of <paramref name="path"/>, as a caller sends it through the SDK.</summary>
    private static string UrlEvent(string path) => JsonSerializer.Serialize(new
    {
        version = "2.0",
        routeKey = "$default",
        rawPath = path,
        rawQueryString = "",
        headers = new Dictionary<string, string> { ["host"] = "function.lambda-url.us-east-1.on.aws" },
        requestContext = new
        {
            accountId = "123456789012",
            domainName = "function.lambda-url.us-east-1.on.aws",
            http = new { method = "GET", path, protocol = "HTTP/1.1", sourceIp = "127.0.0.1", userAgent = "test" },
            requestId = "test",
            routeKey = "$default",
            stage = "$default",
            timeEpoch = 0,
        },
        isBase64Encoded = false,
    });

    private static Task<HttpResponseMessage> PostAsync(HttpClient api, string path, string payload, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(payload) };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return api.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>
    /// What a caller does with the SDK's event stream: the <c>PayloadChunk</c> payloads in order, read through a
    /// <see cref="PayloadChunkStream"/>; an <c>InvokeComplete</c> with an error fails it. Returns the payload to read and
    /// the completion event (once the payload has been read to its end).
    /// </summary>
    private static (Stream Payload, Task<EventStreamDecoder.Message> Complete) Pump(Stream eventStream)
    {
        var complete = new TaskCompletionSource<EventStreamDecoder.Message>(TaskCreationOptions.RunContinuationsAsynchronously);
        return (new PayloadChunkStream(Chunks(new EventStreamDecoder(eventStream), complete)), complete.Task);

        static async IAsyncEnumerable<ReadOnlyMemory<byte>> Chunks(EventStreamDecoder events, TaskCompletionSource<EventStreamDecoder.Message> complete)
        {
            while (await events.NextAsync() is { } message)
            {
                if (message.EventType == "PayloadChunk")
                {
                    yield return message.Payload;
                    continue;
                }

                complete.TrySetResult(message);
                using var completion = JsonDocument.Parse(message.Payload);
                if (completion.RootElement.TryGetProperty("ErrorCode", out var code))
                {
                    throw new IOException($"The function failed: {code.GetString()}");
                }

                yield break;
            }

            throw new InvalidOperationException("The event stream ended without InvokeComplete.");
        }
    }
}
