using System.Net;
using System.Text;
using LambdaStreamingHosting.Testing;
using static LambdaStreamingHosting.Tests.Events.EndToEndHost;

namespace LambdaStreamingHosting.Tests.Events;

/// <summary>
/// Every front door of the emulator, real sockets end to end: client → front door → Runtime API → Lambda server → app
/// → event mapping → prelude or buffered document → front door → client.
/// </summary>
public class EndToEndTests
{
    private static Task<EndToEndHost> StartStreamingAsync(LambdaEmulatorOptions? emulator = null) =>
        EndToEndHost.StartAsync(emulator ?? new LambdaEmulatorOptions(), options => options.InvokeMode = LambdaInvokeMode.ResponseStream);

    private static Task<EndToEndHost> StartBufferedAsync(LambdaEmulatorOptions emulator) =>
        EndToEndHost.StartAsync(emulator, options => options.InvokeMode = LambdaInvokeMode.Buffered);

    private static HttpRequestMessage Get(string path, string? cookie = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        return request;
    }

    private static async Task<Dictionary<string, string>> EchoAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return ParseEcho(await response.Content.ReadAsStringAsync());
    }

    private static string[] SetCookies(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values) ? [.. values] : [];

    private static byte[] AllByteValues() => Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();

    [Fact]
    public async Task Function_url_streaming_maps_the_request_and_answers_every_cookie()
    {
        await using var host = await StartStreamingAsync();
        using var client = Client(host.Emulator.FunctionUrl);

        using var response = await client.SendAsync(Get("echo/a%20b/c%2Fd?x=1&x=2", "c1=v1; c2=v2"));
        var echo = await EchoAsync(response);

        Assert.Equal("FunctionUrl", echo["source"]);
        Assert.Equal("GET", echo["method"]);
        Assert.Equal("", echo["pathBase"]);
        Assert.Equal("/echo/a b/c%2Fd", echo["path"]);
        Assert.Equal("?x=1&x=2", echo["query"]);
        Assert.Equal("1|2", echo["x"]);
        Assert.Equal("c1=v1; c2=v2", echo["cookie"]);
        Assert.Equal("v2", echo["c2"]);
        Assert.Equal("127.0.0.1", echo["remoteIp"]);
        Assert.Equal(["a=1; path=/", "b=2; path=/; httponly"], SetCookies(response));
        Assert.Equal("one, two", string.Join(", ", response.Headers.GetValues("X-Multi")));
        Assert.True((await host.Emulator.WaitForInvocationsAsync(1))[0].Streamed);
    }

    [Fact]
    public async Task Function_url_buffered_round_trips_a_binary_body_as_base64()
    {
        await using var host = await StartBufferedAsync(new LambdaEmulatorOptions { InvokeMode = LambdaInvokeMode.Buffered });
        using var client = Client(host.Emulator.FunctionUrl);
        var bytes = AllByteValues();

        using var response = await client.PostAsync("binary", new ByteArrayContent(bytes));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(bytes, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(["a=1; path=/", "b=2; path=/"], SetCookies(response));
        Assert.False((await host.Emulator.WaitForInvocationsAsync(1))[0].Streamed);
    }

    [Fact]
    public async Task Rest_api_buffered_has_the_stage_as_path_base_and_multi_value_queries()
    {
        await using var host = await StartBufferedAsync(new LambdaEmulatorOptions { RestApiStage = "prod" });
        using var client = Client(host.Emulator.RestApiUrl);

        using var response = await client.SendAsync(Get("echo/items?x=a%20b&x=c%26d", "c1=v1; c2=v2"));
        var echo = await EchoAsync(response);

        Assert.Equal("RestApi", echo["source"]);
        Assert.Equal("/prod", echo["pathBase"]);
        Assert.Equal("/echo/items", echo["path"]);
        Assert.Equal("a b|c&d", echo["x"]);
        Assert.Equal("v2", echo["c2"]);
        Assert.Equal(["a=1; path=/", "b=2; path=/; httponly"], SetCookies(response));
    }

    [Fact]
    public async Task Rest_api_buffered_round_trips_a_binary_body()
    {
        await using var host = await StartBufferedAsync(new LambdaEmulatorOptions());
        using var client = Client(host.Emulator.RestApiUrl);
        var bytes = AllByteValues();

        using var response = await client.PostAsync("binary", new ByteArrayContent(bytes));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(bytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Rest_api_streaming_sends_a_multi_value_prelude_and_streams_the_body()
    {
        await using var host = await StartStreamingAsync(new LambdaEmulatorOptions { RestApiStreaming = true });
        using var client = Client(host.Emulator.RestApiUrl);

        using var response = await client.SendAsync(Get("stream"), HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var first = new byte["first;".Length];
        await body.ReadExactlyAsync(first).AsTask().WaitAsync(Patience);

        // The first chunk arrived while the app is still waiting to write the second: the body streams.
        Assert.Equal("first;", Encoding.UTF8.GetString(first));
        host.SecondChunk.SetResult();
        Assert.Equal("second", await new StreamReader(body).ReadToEndAsync().WaitAsync(Patience));
        Assert.Equal(["a=1; path=/", "b=2; path=/"], SetCookies(response));
        Assert.True((await host.Emulator.WaitForInvocationsAsync(1))[0].Streamed);
    }

    [Fact]
    public async Task Http_api_stage_becomes_the_path_base()
    {
        await using var host = await StartBufferedAsync(new LambdaEmulatorOptions { HttpApiStage = "v1" });
        using var client = Client(host.Emulator.HttpApiUrl);

        using var response = await client.SendAsync(Get("echo/x?x=1", "c2=v2"));
        var echo = await EchoAsync(response);

        Assert.Equal("HttpApi", echo["source"]);
        Assert.Equal("/v1", echo["pathBase"]);
        Assert.Equal("/echo/x", echo["path"]);
        Assert.Equal("v2", echo["c2"]);
        Assert.Equal(["a=1; path=/", "b=2; path=/; httponly"], SetCookies(response));
    }

    [Fact]
    public async Task Http_api_default_stage_is_detected_and_answered_buffered_while_the_function_streams()
    {
        // $default route and stage look alike in both payload 2.0 sources: the request context's domain tells them
        // apart, and an HTTP API never streams, so a streaming function answers it buffered.
        await using var host = await EndToEndHost.StartAsync(new LambdaEmulatorOptions(), options =>
            options.InvokeMode = LambdaInvokeMode.ResponseStream);
        using var client = Client(host.Emulator.HttpApiUrl);

        using var response = await client.SendAsync(Get("echo/x"));
        var echo = await EchoAsync(response);

        Assert.Equal("HttpApi", echo["source"]);
        Assert.Equal("", echo["pathBase"]);
        Assert.Equal("/echo/x", echo["path"]);
        Assert.False((await host.Emulator.WaitForInvocationsAsync(1))[0].Streamed);
    }

    [Fact]
    public async Task Alb_single_value_keeps_query_values_encoded_and_only_the_last_cookie()
    {
        await using var host = await StartBufferedAsync(new LambdaEmulatorOptions());
        using var client = Client(host.Emulator.AlbUrl);

        using var response = await client.SendAsync(Get("echo/q?x=%3Fa%3Db&status=404"));
        var echo = ParseEcho(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("ApplicationLoadBalancer", echo["source"]);
        Assert.Equal("?a=b", echo["x"]);
        Assert.Equal("", echo["pathBase"]);
        Assert.Equal(["b=2; path=/; httponly"], SetCookies(response));
        Assert.Equal("one, two", string.Join(", ", response.Headers.GetValues("X-Multi")));
    }

    [Fact]
    public async Task Alb_multi_value_answers_every_cookie_and_round_trips_binary()
    {
        await using var host = await StartBufferedAsync(new LambdaEmulatorOptions { AlbMultiValueHeaders = true });
        using var client = Client(host.Emulator.AlbUrl);
        var bytes = AllByteValues();

        using var echoResponse = await client.SendAsync(Get("echo/q?x=1&x=2"));
        var echo = await EchoAsync(echoResponse);
        using var binary = await client.PostAsync("binary", new ByteArrayContent(bytes));

        Assert.Equal("1|2", echo["x"]);
        Assert.Equal(["a=1; path=/", "b=2; path=/; httponly"], SetCookies(echoResponse));
        Assert.Equal(bytes, await binary.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Buffered_function_url_answer_over_the_limit_is_a_clear_error_not_a_truncated_body()
    {
        await using var host = await StartBufferedAsync(new LambdaEmulatorOptions { InvokeMode = LambdaInvokeMode.Buffered });
        using var client = Client(host.Emulator.FunctionUrl);

        // 5 MB of binary fits as bytes but not as base64 (6.67 MB).
        using var response = await client.GetAsync("big?n=" + (5 * 1024 * 1024));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var record = (await host.Emulator.WaitForInvocationsAsync(1))[0];
        Assert.Equal("LambdaStreaming.ResponseTooLarge", record.ErrorType);
        Assert.Contains("RESPONSE_STREAM", record.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Buffered_alb_answer_over_one_megabyte_is_a_clear_error()
    {
        await using var host = await StartBufferedAsync(new LambdaEmulatorOptions());
        using var client = Client(host.Emulator.AlbUrl);

        using var response = await client.GetAsync("big?n=" + (900 * 1024));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var record = (await host.Emulator.WaitForInvocationsAsync(1))[0];
        Assert.Equal("LambdaStreaming.ResponseTooLarge", record.ErrorType);
        Assert.Contains("1,048,576", record.ErrorMessage, StringComparison.Ordinal);
    }
}
