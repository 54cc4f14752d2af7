using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using static LambdaStreamingHosting.Testing.Tests.TestSupport;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>The events each front door builds, checked field by field and against real captures.</summary>
public class EventShapeTests
{
    private static HttpRequestMessage Get(string target, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, target);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    private static HttpRequestMessage Post(string target, byte[] body, string? contentType)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new ByteArrayContent(body) };
        if (contentType is not null)
        {
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        return request;
    }

    [Fact]
    public async Task Function_url_event_follows_payload_2_0()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var (e, response) = await RoundTripRawAsync(emulator, emulator.FunctionUrl, "GET /my/path%20x?b=2&a=1&a=x%20y&plus=a+b",
            ["Cookie: c1=v1; c2=v2", "X-Multi: one", "X-Multi: two", "User-Agent: tests/1.0"], Streamed("{}", ""));
        Assert.Equal(200, response.Status);

        Assert.Equal("2.0", e.GetProperty("version").GetString());
        Assert.Equal("$default", e.GetProperty("routeKey").GetString());
        Assert.Equal("/my/path%20x", e.GetProperty("rawPath").GetString());
        Assert.Equal("b=2&a=1&a=x%20y&plus=a+b", e.GetProperty("rawQueryString").GetString());
        Assert.Equal(["c1=v1", "c2=v2"], e.GetProperty("cookies").EnumerateArray().Select(c => c.GetString()));
        var headers = e.GetProperty("headers");
        Assert.Equal("one,two", headers.GetProperty("x-multi").GetString());
        Assert.Equal("tests/1.0", headers.GetProperty("user-agent").GetString());
        Assert.Equal("c1=v1; c2=v2", headers.GetProperty("cookie").GetString()); // as in the real capture
        Assert.Equal("127.0.0.1", headers.GetProperty("x-forwarded-for").GetString());
        Assert.Equal("http", headers.GetProperty("x-forwarded-proto").GetString());
        Assert.Equal(emulator.FunctionUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), headers.GetProperty("x-forwarded-port").GetString());
        Assert.StartsWith("Root=1-", headers.GetProperty("x-amzn-trace-id").GetString());
        Assert.All(headers.EnumerateObject(), h => Assert.Equal(h.Name.ToLowerInvariant(), h.Name));
        var query = e.GetProperty("queryStringParameters");
        Assert.Equal("1,x y", query.GetProperty("a").GetString());
        Assert.Equal("2", query.GetProperty("b").GetString());
        Assert.Equal("a b", query.GetProperty("plus").GetString());

        var context = e.GetProperty("requestContext");
        Assert.Equal("GET", context.GetProperty("http").GetProperty("method").GetString());
        Assert.Equal("HTTP/1.1", context.GetProperty("http").GetProperty("protocol").GetString());
        Assert.Equal("127.0.0.1", context.GetProperty("http").GetProperty("sourceIp").GetString());
        Assert.Equal("tests/1.0", context.GetProperty("http").GetProperty("userAgent").GetString());
        Assert.Equal("$default", context.GetProperty("stage").GetString());
        Assert.InRange(context.GetProperty("timeEpoch").GetInt64(), before - 1000, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.Matches(@"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$", context.GetProperty("time").GetString());
        Assert.False(e.TryGetProperty("body", out _));
        Assert.False(e.GetProperty("isBase64Encoded").GetBoolean());
    }

    [Fact]
    public async Task Function_url_event_has_the_fields_of_the_real_capture()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        // The capture's query is not decoded into queryStringParameters; a query-less request compares like for like.
        var (e, _) = await RoundTripAsync(emulator, emulator.FunctionUrl, Get("/my/path", ("Cookie", "test=hi")), Streamed("{}", ""));
        Assert.Equal(PropertyPaths(Golden("lambda_function_url_request.json")), PropertyPaths(e));
    }

    [Fact]
    public async Task Queryless_cookieless_requests_omit_cookies_and_query_parameters()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var (e, _) = await RoundTripAsync(emulator, emulator.FunctionUrl, Get("/"), Streamed("{}", ""));
        Assert.Equal("", e.GetProperty("rawQueryString").GetString());
        Assert.False(e.TryGetProperty("cookies", out _));
        Assert.False(e.TryGetProperty("queryStringParameters", out _));
    }

    [Theory]
    [InlineData("text/plain; charset=utf-8", false)]
    [InlineData("application/json", false)]
    [InlineData("application/xml", false)]
    [InlineData("application/javascript", false)]
    [InlineData("application/x-www-form-urlencoded", true)]
    [InlineData("application/octet-stream", true)]
    [InlineData("image/png", true)]
    [InlineData(null, true)]
    public async Task Bodies_arrive_as_text_only_for_text_json_xml_and_javascript(string? contentType, bool base64)
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var body = Encoding.UTF8.GetBytes("{\"name\":\"é\"}");
        var (e, _) = await RoundTripAsync(emulator, emulator.FunctionUrl, Post("/", body, contentType), Streamed("{}", ""));
        Assert.Equal(base64, e.GetProperty("isBase64Encoded").GetBoolean());
        var text = e.GetProperty("body").GetString()!;
        Assert.Equal(body, base64 ? Convert.FromBase64String(text) : Encoding.UTF8.GetBytes(text));
    }

    [Fact]
    public async Task Rest_api_event_follows_payload_1_0_under_the_stage()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { RestApiStage = "prod" });
        Assert.Equal("/prod/", emulator.RestApiUrl.AbsolutePath);
        var (e, response) = await RoundTripRawAsync(emulator, emulator.RestApiUrl, "GET /prod/orders/42?a=1&a=x%20y", ["X-Multi: one", "X-Multi: two"],
            Buffered("""{"statusCode":200,"body":"ok"}"""));
        Assert.Equal("ok", response.Text);

        Assert.Equal("/orders/42", e.GetProperty("path").GetString());
        Assert.Equal("/{proxy+}", e.GetProperty("resource").GetString());
        Assert.Equal("GET", e.GetProperty("httpMethod").GetString());
        Assert.Equal("orders/42", e.GetProperty("pathParameters").GetProperty("proxy").GetString());
        Assert.Equal("two", e.GetProperty("headers").GetProperty("X-Multi").GetString());
        Assert.Equal(["one", "two"], e.GetProperty("multiValueHeaders").GetProperty("X-Multi").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal("x y", e.GetProperty("queryStringParameters").GetProperty("a").GetString());
        Assert.Equal(["1", "x y"], e.GetProperty("multiValueQueryStringParameters").GetProperty("a").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal("/prod/orders/42", e.GetProperty("requestContext").GetProperty("path").GetString());
        Assert.Equal("prod", e.GetProperty("requestContext").GetProperty("stage").GetString());
        Assert.Equal(JsonValueKind.Null, e.GetProperty("body").ValueKind);

        var golden = PropertyPaths(Golden("example-apigw-request.json"));
        golden.ExceptWith(["requestContext.authorizer", "stageVariables.stageVariableName"]);
        Assert.Subset(PropertyPaths(e), golden);
    }

    [Fact]
    public async Task Rest_api_requests_outside_the_stage_get_403_without_invoking()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        using var http = Client(emulator.RestApiUrl);
        using var response = await http.GetAsync("/other/path");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("Forbidden", Assert.Single(emulator.Invocations).ErrorType);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Alb_event_uses_the_configured_header_style_and_keeps_query_values_encoded(bool multiValue)
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { AlbMultiValueHeaders = multiValue });
        var answer = multiValue
            ? """{"statusCode":200,"statusDescription":"200 OK","multiValueHeaders":{"content-type":["text/plain"]},"body":"hi"}"""
            : """{"statusCode":200,"statusDescription":"200 OK","headers":{"content-type":"text/plain"},"body":"hi"}""";
        var (e, response) = await RoundTripRawAsync(emulator, emulator.AlbUrl, "GET /lambda?myKey=%3FshowAll%3Dtrue&myKey=b", ["X-Multi: one", "X-Multi: two"], Buffered(answer));
        Assert.Equal("hi", response.Text);
        Assert.Equal("text/plain", response.Header("Content-Type"));

        Assert.StartsWith("arn:aws:elasticloadbalancing:", e.GetProperty("requestContext").GetProperty("elb").GetProperty("targetGroupArn").GetString());
        Assert.Equal("/lambda", e.GetProperty("path").GetString());
        if (multiValue)
        {
            Assert.False(e.TryGetProperty("headers", out _));
            Assert.Equal(["one", "two"], e.GetProperty("multiValueHeaders").GetProperty("x-multi").EnumerateArray().Select(v => v.GetString()));
            Assert.Equal(["%3FshowAll%3Dtrue", "b"], e.GetProperty("multiValueQueryStringParameters").GetProperty("myKey").EnumerateArray().Select(v => v.GetString()));
        }
        else
        {
            Assert.False(e.TryGetProperty("multiValueHeaders", out _));
            Assert.Equal("two", e.GetProperty("headers").GetProperty("x-multi").GetString());
            Assert.Equal("b", e.GetProperty("queryStringParameters").GetProperty("myKey").GetString());
            var golden = PropertyPaths(Golden("alb_request.json"));
            Assert.Equal(golden, PropertyPaths(e));
        }
    }

    [Fact]
    public async Task Http_api_event_keeps_a_named_stage_in_raw_path()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { HttpApiStage = "Prod", InvokeMode = LambdaInvokeMode.Buffered });
        Assert.Equal("/Prod/", emulator.HttpApiUrl.AbsolutePath);
        var (e, response) = await RoundTripAsync(emulator, emulator.HttpApiUrl, Get("/Prod/my/path"), Buffered("""{"statusCode":200,"body":"ok"}"""));
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Assert.Equal("/Prod/my/path", e.GetProperty("rawPath").GetString());
        Assert.Equal("Prod", e.GetProperty("requestContext").GetProperty("stage").GetString());
        Assert.Equal("2.0", e.GetProperty("version").GetString());
    }
}
