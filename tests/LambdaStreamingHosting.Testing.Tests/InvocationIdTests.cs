using System.Net;
using Microsoft.Extensions.Time.Testing;
using static LambdaStreamingHosting.Testing.Tests.TestSupport;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>
/// <c>Lambda-Runtime-Invocation-Id</c>: a nonce per delivery that answers carry back, so a late answer of an earlier
/// delivery of a reused request id is refused (410) instead of reaching the newer caller. Driven by the raw-socket client.
/// </summary>
public class InvocationIdTests
{
    [Fact]
    public async Task Every_delivery_gets_a_new_invocation_id_and_its_log_entry_keeps_it()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { InvokeMode = LambdaInvokeMode.Buffered });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var ids = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var request = SendAsync(http, HttpMethod.Get, "/");
            var invocation = await runtime.NextAsync().WaitAsync(Patience);
            Assert.Matches("^[0-9a-f]{32}$", invocation.InvocationId);
            ids.Add(invocation.InvocationId);
            Assert.Equal(202, (await runtime.PostBufferedAsync(invocation.RequestId, """{"statusCode":200}""", invocationId: invocation.InvocationId)).Status);
            (await request.WaitAsync(Patience)).Dispose();
        }

        Assert.NotEqual(ids[0], ids[1]);
        var records = await emulator.WaitForInvocationsAsync(2);
        Assert.Equal(ids, records.Select(r => r.InvocationId));
        Assert.All(records, r => Assert.False(r.AnsweredWithoutInvocationId));
    }

    [Theory]
    [InlineData("buffered")]
    [InlineData("streamed")]
    [InlineData("error")]
    public async Task An_answer_with_another_invocation_id_gets_410_and_the_right_one_is_still_accepted(string kind)
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { InvokeMode = kind == "streamed" ? LambdaInvokeMode.ResponseStream : LambdaInvokeMode.Buffered });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/");
        var invocation = await runtime.NextAsync().WaitAsync(Patience);

        var wrong = await AnswerAsync(runtime, kind, invocation.RequestId, "0123456789abcdef0123456789abcdef", "wrong");
        Assert.Equal(410, wrong.Status);
        Assert.Contains("\"errorType\":\"ErrorRuntimeInvokeTimeout\"", wrong.Text);

        Assert.Equal(202, (await AnswerAsync(runtime, kind, invocation.RequestId, invocation.InvocationId, "right")).Status);
        using var response = await request.WaitAsync(Patience);
        var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
        if (kind == "error")
        {
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.Equal("Test.right", record.ErrorType);
        }
        else
        {
            Assert.Equal("right", await response.Content.ReadAsStringAsync());
        }

        Assert.False(record.AnsweredWithoutInvocationId);
    }

    [Theory]
    [InlineData("buffered")]
    [InlineData("streamed")]
    [InlineData("error")]
    public async Task An_answer_without_an_invocation_id_is_accepted_as_Lambda_does_and_recorded(string kind)
    {
        // Strict mode: it is not a protocol violation (older runtime clients send none), only a recorded fact.
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { InvokeMode = kind == "streamed" ? LambdaInvokeMode.ResponseStream : LambdaInvokeMode.Buffered });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/");
        var invocation = await runtime.NextAsync().WaitAsync(Patience);

        Assert.Equal(202, (await AnswerAsync(runtime, kind, invocation.RequestId, invocationId: null, "no-id")).Status);
        (await request.WaitAsync(Patience)).Dispose();
        var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
        Assert.True(record.AnsweredWithoutInvocationId);
        Assert.Equal(invocation.InvocationId, record.InvocationId);
        Assert.Empty(emulator.ProtocolViolations);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_late_answer_after_a_retry_took_the_request_id_is_refused_only_when_it_carries_its_invocation_id(bool echo)
    {
        // Two invocations at a time (Lambda Managed Instances): the first delivery runs past its timeout, the retry with
        // the same request id is delivered to the second loop, and then the first one's late answer comes.
        var clock = new FakeTimeProvider();
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { InvokeMode = LambdaInvokeMode.Buffered, MaxConcurrency = 2, Timeout = TimeSpan.FromSeconds(1), TimeProvider = clock });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var first = http.SendAsync(WithRequestId("order-7"), HttpCompletionOption.ResponseContentRead);
        var delivered = await runtime.NextAsync().WaitAsync(Patience);
        Assert.Equal("order-7", delivered.RequestId);

        clock.Advance(TimeSpan.FromSeconds(1));
        using (var timedOut = await first.WaitAsync(Patience))
        {
            Assert.Equal(HttpStatusCode.BadGateway, timedOut.StatusCode);
        }

        var retry = http.SendAsync(WithRequestId("order-7"), HttpCompletionOption.ResponseContentRead);
        var redelivered = await runtime.NextAsync().WaitAsync(Patience);
        Assert.Equal("order-7", redelivered.RequestId);
        Assert.NotEqual(delivered.InvocationId, redelivered.InvocationId);

        var late = await runtime.PostBufferedAsync("order-7", """{"statusCode":200,"body":"first delivery's answer"}""", invocationId: echo ? delivered.InvocationId : null);
        if (echo)
        {
            Assert.Equal(410, late.Status);
            Assert.Contains("ErrorRuntimeInvokeTimeout", late.Text);
            Assert.Equal(202, (await runtime.PostBufferedAsync("order-7", """{"statusCode":200,"body":"retry's answer"}""", invocationId: redelivered.InvocationId)).Status);
            using var response = await retry.WaitAsync(Patience);
            Assert.Equal("retry's answer", await response.Content.ReadAsStringAsync());
        }
        else
        {
            // What the header prevents: Lambda gives the late answer to the caller of the newer invocation.
            Assert.Equal(202, late.Status);
            using var response = await retry.WaitAsync(Patience);
            Assert.Equal("first delivery's answer", await response.Content.ReadAsStringAsync());
            Assert.NotEqual(202, (await runtime.PostBufferedAsync("order-7", "{}", invocationId: redelivered.InvocationId)).Status);
            await DisposeExpectingViolationsAsync(emulator); // the retry's own answer came for an answered invocation
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("a/b")]
    public async Task A_request_id_header_that_is_not_an_id_gets_400_without_invoking(string value)
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        using var http = Client(emulator.FunctionUrl);
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.TryAddWithoutValidation(LambdaEmulator.RequestIdHeader, value);
        using var response = await http.SendAsync(request).WaitAsync(Patience);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(emulator.Invocations);
    }

    [Fact]
    public async Task The_request_id_header_does_not_reach_the_event()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { InvokeMode = LambdaInvokeMode.Buffered });
        var (eventJson, response) = await RoundTripAsync(emulator, emulator.FunctionUrl, WithRequestId("chosen-id"), Buffered("""{"statusCode":204}"""));
        using (response)
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        Assert.False(eventJson.GetProperty("headers").TryGetProperty(LambdaEmulator.RequestIdHeader, out _));
        Assert.Equal("chosen-id", eventJson.GetProperty("requestContext").GetProperty("requestId").GetString());
    }

    private static HttpRequestMessage WithRequestId(string requestId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/orders/7");
        request.Headers.Add(LambdaEmulator.RequestIdHeader, requestId);
        return request;
    }

    private static async Task<RawRuntimeClient.Reply> AnswerAsync(RawRuntimeClient runtime, string kind, string requestId, string? invocationId, string text)
    {
        switch (kind)
        {
            case "buffered":
                return await runtime.PostBufferedAsync(requestId, $$"""{"statusCode":200,"body":"{{text}}"}""", invocationId: invocationId);
            case "error":
                return await runtime.PostErrorAsync(requestId, "Test." + text, text, invocationId);
            default:
                await using (var answer = await runtime.BeginStreamAsync(requestId, invocationId: invocationId))
                {
                    await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200}"""));
                    await answer.WriteChunkAsync(text);
                    return await answer.EndAsync();
                }
        }
    }
}
