using System.Net;
using LambdaStreamingHosting.Events;

namespace LambdaStreamingHosting.Tests.Events;

public class PayloadV2MappingTests
{
    [Fact]
    public void Function_url_capture_maps_every_request_field()
    {
        var request = GoldenEvents.Map("lambda_function_url_request.json");

        Assert.Equal(LambdaEventSource.FunctionUrl, request.Source);
        Assert.Equal(ResponseShape.PayloadV2, request.ResponseShape);
        Assert.Equal("GET", request.Method);
        Assert.Equal("", request.PathBase);
        Assert.Equal("/my/path", request.Path);
        Assert.Equal("?parameter1=value1&parameter1=value2&parameter2=value", request.QueryString);
        Assert.Equal("/my/path?parameter1=value1&parameter1=value2&parameter2=value", request.RawTarget);
        Assert.Equal("id.lambda-url.eu-west-2.on.aws", request.Headers["Host"].ToString());
        Assert.Equal("test=hi", request.Headers["Cookie"].ToString());
        Assert.Equal("curl/7.68.0", request.Headers["User-Agent"].ToString());
        Assert.Equal("https", request.Scheme);
        Assert.Equal(443, request.LocalPort);
        Assert.Equal("HTTP/1.1", request.Protocol);
        Assert.Equal(IPAddress.Parse("65.78.31.245"), request.RemoteIpAddress);
        Assert.True(request.Body.IsEmpty);
        Assert.Null(request.User);
        Assert.Null(request.ClientCertificate);
    }

    [Fact]
    public void Cookie_header_is_rebuilt_from_cookies_joined_with_semicolons()
    {
        var request = GoldenEvents.Map("apigw_v2_proxy_request_minimal.json");
        var withCookies = GoldenEvents.Map("apigw_v2_proxy_request.json");

        Assert.False(request.Headers.ContainsKey("Cookie"));
        Assert.Equal("cookie1=value1; cookie2=value2", withCookies.Headers["Cookie"].ToString());
    }

    [Fact]
    public void Text_body_is_the_utf8_bytes_of_the_json_string()
    {
        var request = GoldenEvents.MapJson("""
            {"version":"2.0","rawPath":"/","rawQueryString":"","headers":{},
             "requestContext":{"http":{"method":"post","sourceIp":"10.0.0.1"},"requestId":"r"},
             "body":"h\u00e9llo \"quoted\"\n","isBase64Encoded":false}
            """);

        Assert.Equal("POST", request.Method);
        Assert.Equal("héllo \"quoted\"\n", request.BodyText());
    }

    [Fact]
    public void Base64_body_is_decoded_to_its_bytes()
    {
        var request = GoldenEvents.Map("function_url_base64_body.json");

        Assert.Equal(new byte[] { 0x00, 0x01, 0xFE, 0xFF, 0x89, 0x50, 0x4E, 0x47 }, request.Body.ToArray());
        Assert.Equal("application/octet-stream", request.Headers["Content-Type"].ToString());
    }

    [Fact]
    public void Scheme_and_port_come_from_forwarded_headers()
    {
        var request = GoldenEvents.Map("apigw_v2_sam_local.json");

        Assert.Equal("http", request.Scheme);
        Assert.Equal(3000, request.LocalPort);
        Assert.Equal("127.0.0.1:3000", request.Headers["Host"].ToString());
        Assert.Equal(IPAddress.Loopback, request.RemoteIpAddress);
    }

    [Fact]
    public void Unparseable_source_ip_leaves_the_remote_address_unknown()
    {
        var request = GoldenEvents.Map("apigw_v2_proxy_request.json");

        Assert.Null(request.RemoteIpAddress);
    }

    [Fact]
    public void Missing_host_header_falls_back_to_the_domain_name()
    {
        var request = GoldenEvents.MapJson("""
            {"version":"2.0","rawPath":"/","headers":{"accept":"*/*"},
             "requestContext":{"domainName":"fn.lambda-url.us-east-1.on.aws","http":{"method":"GET"}}}
            """);

        Assert.Equal("fn.lambda-url.us-east-1.on.aws", request.Headers["Host"].ToString());
    }

    [Fact]
    public void Raw_path_is_decoded_as_kestrel_does_but_raw_target_keeps_it()
    {
        var request = GoldenEvents.MapJson("""
            {"version":"2.0","rawPath":"/a%20b/c%2Fd/%E2%82%AC","rawQueryString":"q=%20x",
             "requestContext":{"http":{"method":"GET"}}}
            """);

        Assert.Equal("/a b/c%2Fd/€", request.Path);
        Assert.Equal("/a%20b/c%2Fd/%E2%82%AC?q=%20x", request.RawTarget);
        Assert.Equal("?q=%20x", request.QueryString);
    }

    [Fact]
    public void Function_url_never_has_a_path_base()
    {
        var request = GoldenEvents.MapJson("""
            {"version":"2.0","rawPath":"/Prod/x","requestContext":{"domainName":"abc.lambda-url.us-east-1.on.aws",
             "stage":"Prod","http":{"method":"GET"}}}
            """);

        Assert.Equal(LambdaEventSource.FunctionUrl, request.Source);
        Assert.Equal("", request.PathBase);
        Assert.Equal("/Prod/x", request.Path);
    }

    [Fact]
    public void Http_api_non_default_stage_becomes_the_path_base()
    {
        var request = GoldenEvents.Map("apigw_v2_proxy_request_with_stage_in_path.json");

        Assert.Equal(LambdaEventSource.HttpApi, request.Source);
        Assert.Equal("/Prod", request.PathBase);
        Assert.Equal("/my/path", request.Path);
        Assert.Equal("/Prod/my/path?parameter1=value1&parameter1=value2&parameter2=value", request.RawTarget);
        Assert.Equal("Hello from Lambda", request.BodyText());
    }

    [Fact]
    public void Http_api_default_stage_has_no_path_base()
    {
        var request = GoldenEvents.Map("apigw_v2_proxy_request.json");

        Assert.Equal(LambdaEventSource.HttpApi, request.Source);
        Assert.Equal("", request.PathBase);
    }

    [Fact]
    public void Stage_prefix_must_be_a_whole_segment()
    {
        var request = GoldenEvents.MapJson("""
            {"version":"2.0","rawPath":"/Products/1","requestContext":{"stage":"Prod","http":{"method":"GET"}}}
            """);

        Assert.Equal("", request.PathBase);
        Assert.Equal("/Products/1", request.Path);
    }

    [Fact]
    public void Pinned_http_api_source_wins_over_detection_within_payload_2()
    {
        var request = GoldenEvents.Map("lambda_function_url_request.json", new LambdaStreamingOptions { EventSource = LambdaEventSource.HttpApi });

        Assert.Equal(LambdaEventSource.HttpApi, request.Source);
    }

    [Fact]
    public void Http_2_protocol_is_normalised()
    {
        var request = GoldenEvents.MapJson("""
            {"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET","protocol":"HTTP/2.0"}}}
            """);

        Assert.Equal("HTTP/2", request.Protocol);
    }
}

public class PayloadV2SourceDetectionTests
{
    [Theory]
    [InlineData("abc.lambda-url.us-east-1.on.aws", "$default", "$default", LambdaEventSource.FunctionUrl)]
    [InlineData("abc.execute-api.us-east-1.amazonaws.com", "$default", "$default", LambdaEventSource.HttpApi)]
    [InlineData("api.example.com", "$default", "$default", LambdaEventSource.HttpApi)]
    [InlineData("127.0.0.1", "$default", "$default", LambdaEventSource.FunctionUrl)]
    [InlineData("localhost", "$default", "$default", LambdaEventSource.FunctionUrl)]
    [InlineData("::1", "$default", "$default", LambdaEventSource.FunctionUrl)]
    [InlineData("", "$default", "$default", LambdaEventSource.FunctionUrl)]
    [InlineData("127.0.0.1", "GET /hello", "$default", LambdaEventSource.HttpApi)]
    [InlineData("127.0.0.1", "$default", "prod", LambdaEventSource.HttpApi)]
    public void Function_url_and_http_api_are_told_apart(string domain, string routeKey, string stage, LambdaEventSource expected)
    {
        var context = $"\"domainName\":\"{domain}\",\"routeKey\":\"{routeKey}\",\"stage\":\"{stage}\"";
        var request = GoldenEvents.MapJson("{\"version\":\"2.0\",\"requestContext\":{" + context + ",\"http\":{\"method\":\"GET\"}}}");

        Assert.Equal(expected, request.Source);
    }
}
