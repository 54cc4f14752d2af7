using System.Net;
using System.Text;
using static LambdaStreamingHosting.Testing.Tests.TestSupport;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>Buffered answers through each front door, and answers in the wrong mode for the door.</summary>
public class BufferedAnswerTests
{
    private static HttpRequestMessage Get(string target) => new(HttpMethod.Get, target);

    private static LambdaEmulatorOptions BufferedUrl(bool strict = true) => new() { InvokeMode = LambdaInvokeMode.Buffered, Strict = strict };

    [Fact]
    public async Task Function_url_buffered_answer_sets_status_headers_cookies_and_base64_body()
    {
        await using var emulator = await LambdaEmulator.StartAsync(BufferedUrl());
        var body = Convert.ToBase64String([1, 2, 3, 250]);
        var (_, response) = await RoundTripAsync(emulator, emulator.FunctionUrl, Get("/"), Buffered(
            $$"""{"statusCode":418,"headers":{"content-type":"application/octet-stream","x-a":"1, 2"},"cookies":["a=1","b=2; Secure"],"body":"{{body}}","isBase64Encoded":true}"""));
        Assert.Equal((HttpStatusCode)418, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(["a=1", "b=2; Secure"], response.Headers.GetValues("Set-Cookie"));
        Assert.Equal(new byte[] { 1, 2, 3, 250 }, await response.Content.ReadAsByteArrayAsync());
        var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
        Assert.Equal(418, record.StatusCode);
        Assert.Equal(4, record.ResponseBytes);
        Assert.False(record.Streamed);
    }

    [Theory]
    [InlineData("""{"message":"no status code"}""")]
    [InlineData("\"just a string\"")]
    public async Task Function_url_json_without_status_code_is_a_200_json_body(string answer)
    {
        await using var emulator = await LambdaEmulator.StartAsync(BufferedUrl());
        var (_, response) = await RoundTripAsync(emulator, emulator.FunctionUrl, Get("/"), Buffered(answer));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(answer, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Function_url_remaps_content_length_connection_and_server()
    {
        await using var emulator = await LambdaEmulator.StartAsync(BufferedUrl());
        var (_, response) = await RoundTripAsync(emulator, emulator.FunctionUrl, Get("/"), Buffered(
            """{"statusCode":200,"headers":{"Content-Length":"999","Server":"mine","Connection":"close"},"body":"abc"}"""));
        Assert.Equal("abc", await response.Content.ReadAsStringAsync());
        Assert.Equal("999", response.Headers.GetValues("x-amzn-Remapped-Content-Length").Single());
        Assert.Equal("mine", response.Headers.GetValues("x-amzn-Remapped-Server").Single());
        Assert.Equal("close", response.Headers.GetValues("x-amzn-Remapped-Connection").Single());
    }

    [Fact]
    public async Task Invalid_base64_is_a_502_and_a_violation()
    {
        var emulator = await LambdaEmulator.StartAsync(BufferedUrl());
        var (_, response) = await RoundTripAsync(emulator, emulator.FunctionUrl, Get("/"), Buffered("""{"statusCode":200,"body":"***","isBase64Encoded":true}"""));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("not valid base64", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Fact]
    public async Task Multi_value_headers_in_a_function_url_answer_are_flagged_in_strict_mode()
    {
        var emulator = await LambdaEmulator.StartAsync(BufferedUrl());
        var (_, response) = await RoundTripAsync(emulator, emulator.FunctionUrl, Get("/"), Buffered("""{"statusCode":200,"multiValueHeaders":{"x":["1"]}}"""));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("multiValueHeaders", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Fact]
    public async Task Streaming_to_a_buffered_function_url_is_a_502_and_a_violation()
    {
        var emulator = await LambdaEmulator.StartAsync(BufferedUrl());
        var (_, response) = await RoundTripAsync(emulator, emulator.FunctionUrl, Get("/"), Streamed("""{"statusCode":200}""", "x"));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var violation = Assert.Single(await DisposeExpectingViolationsAsync(emulator));
        Assert.Contains("expects one buffered JSON answer", violation);
        Assert.Contains("InvokeMode=Buffered", violation);
    }

    [Fact]
    public async Task Buffered_answer_to_a_streaming_url_is_a_violation_in_strict_mode_and_verbatim_otherwise()
    {
        var strict = await LambdaEmulator.StartAsync();
        var (_, refused) = await RoundTripAsync(strict, strict.FunctionUrl, Get("/"), Buffered("""{"statusCode":201}"""));
        Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
        Assert.Contains("InvokeMode=ResponseStream", Assert.Single(await DisposeExpectingViolationsAsync(strict)));

        await using var lenient = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Strict = false });
        var (_, verbatim) = await RoundTripAsync(lenient, lenient.FunctionUrl, Get("/"), Buffered("""{"statusCode":201}"""));
        Assert.Equal(HttpStatusCode.OK, verbatim.StatusCode);
        Assert.Equal("""{"statusCode":201}""", await verbatim.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_slow_client_does_not_hold_the_function_after_a_buffered_answer()
    {
        await using var emulator = await LambdaEmulator.StartAsync(BufferedUrl());
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var first = SendAsync(http, HttpMethod.Get, "/big"); // its body is not read until the end
        var invocation = await runtime.NextAsync().WaitAsync(Patience);
        var big = new string('x', 4 * 1024 * 1024);
        var reply = await runtime.PostBufferedAsync(invocation.RequestId, $$"""{"statusCode":200,"body":"{{big}}"}""").WaitAsync(Patience);
        Assert.Equal(202, reply.Status);

        var second = SendAsync(http, HttpMethod.Get, "/small");
        var next = await runtime.NextAsync().WaitAsync(Patience); // allowed: the function is free
        await runtime.PostBufferedAsync(next.RequestId, """{"statusCode":200,"body":"small"}""");
        using var secondResponse = await second;
        Assert.Equal("small", await secondResponse.Content.ReadAsStringAsync());

        using var firstResponse = await first;
        Assert.Equal(big.Length, (await firstResponse.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task Rest_api_buffered_answer_merges_headers_and_multi_value_headers()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var (_, response) = await RoundTripAsync(emulator, emulator.RestApiUrl, Get("/test/x"), Buffered(
            """{"statusCode":"201","headers":{"content-type":"text/plain"},"multiValueHeaders":{"Set-Cookie":["a=1","b=2"],"x-m":["1","2"]},"body":"made"}"""));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(["a=1", "b=2"], response.Headers.GetValues("Set-Cookie"));
        Assert.Equal(["1", "2"], response.Headers.GetValues("x-m"));
        Assert.Equal("made", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Rest_api_answer_without_status_code_is_a_malformed_proxy_response()
    {
        var emulator = await LambdaEmulator.StartAsync();
        var (_, response) = await RoundTripAsync(emulator, emulator.RestApiUrl, Get("/test/"), Buffered("""{"body":"x"}"""));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("""{"message": "Internal server error"}""", await response.Content.ReadAsStringAsync());
        Assert.Contains("no statusCode", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Fact]
    public async Task Rest_api_streaming_accepts_multi_value_headers_in_the_prelude()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { RestApiStreaming = true });
        var (_, response) = await RoundTripAsync(emulator, emulator.RestApiUrl, Get("/test/s"), Streamed(
            """{"statusCode":200,"headers":{"content-type":"text/event-stream"},"multiValueHeaders":{"x-m":["1","2"]}}""", "data: 1\n\n"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["1", "2"], response.Headers.GetValues("x-m"));
        Assert.Equal("data: 1\n\n", await response.Content.ReadAsStringAsync());
        Assert.True(Assert.Single(emulator.Invocations).Streamed);
    }

    [Fact]
    public async Task Alb_answer_sets_the_reason_phrase_from_status_description()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var (_, response) = await RoundTripAsync(emulator, emulator.AlbUrl, Get("/"), Buffered(
            """{"statusCode":404,"statusDescription":"404 Nothing Here","headers":{"content-type":"text/plain"},"body":"no"}"""));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("Nothing Here", response.ReasonPhrase);
    }

    [Fact]
    public async Task Alb_answer_in_the_other_header_style_is_flagged()
    {
        var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { AlbMultiValueHeaders = true });
        var (_, response) = await RoundTripAsync(emulator, emulator.AlbUrl, Get("/"), Buffered("""{"statusCode":200,"headers":{"x":"1"}}"""));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("reads only 'multiValueHeaders'", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Fact]
    public async Task Alb_limits_bodies_to_1_MB_each_way()
    {
        var emulator = await LambdaEmulator.StartAsync();
        using var http = Client(emulator.AlbUrl);
        using var tooBig = await http.PostAsync("/", new ByteArrayContent(new byte[LambdaEmulatorOptions.AlbMaxBodyBytes + 1]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBig.StatusCode);

        var large = Convert.ToBase64String(new byte[LambdaEmulatorOptions.AlbMaxBodyBytes + 1]);
        var (_, response) = await RoundTripAsync(emulator, emulator.AlbUrl, Get("/"), Buffered($$"""{"statusCode":200,"body":"{{large}}","isBase64Encoded":true}"""));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("a load balancer accepts at most 1048576", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Fact]
    public async Task Http_api_never_streams()
    {
        var emulator = await LambdaEmulator.StartAsync();
        var (_, response) = await RoundTripAsync(emulator, emulator.HttpApiUrl, Get("/"), Streamed("{}", "x"));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("HTTP API expects one buffered JSON answer", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Fact]
    public async Task Text_bodies_are_utf8()
    {
        await using var emulator = await LambdaEmulator.StartAsync(BufferedUrl());
        var (_, response) = await RoundTripAsync(emulator, emulator.FunctionUrl, Get("/"), Buffered("""{"statusCode":200,"headers":{"content-type":"text/plain; charset=utf-8"},"body":"héllo ✓"}"""));
        Assert.Equal("héllo ✓", Encoding.UTF8.GetString(await response.Content.ReadAsByteArrayAsync()));
    }
}
