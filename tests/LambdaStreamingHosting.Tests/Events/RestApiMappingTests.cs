using System.Net;
using System.Security.Claims;
using LambdaStreamingHosting.Events;

namespace LambdaStreamingHosting.Tests.Events;

public class RestApiMappingTests
{
    [Fact]
    public void Rest_capture_maps_method_path_query_headers_and_body()
    {
        var request = GoldenEvents.Map("example-apigw-request.json");

        Assert.Equal(LambdaEventSource.RestApi, request.Source);
        Assert.Equal(ResponseShape.RestApi, request.ResponseShape);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/hello/world", request.Path);
        Assert.Equal("", request.PathBase);
        Assert.Equal("?name=me", request.QueryString);
        Assert.Equal("application/json", request.Headers["Content-Type"].ToString());
        Assert.Equal("gy415nuibc.execute-api.us-east-1.amazonaws.com", request.Headers["Host"].ToString());
        Assert.Equal(IPAddress.Parse("192.168.196.186"), request.RemoteIpAddress);
        Assert.Equal("https", request.Scheme);
    }

    [Fact]
    public void Stage_becomes_path_base_and_multi_value_fields_keep_every_value()
    {
        var request = GoldenEvents.Map("rest_api_stage_cognito_mtls.json");

        Assert.Equal("/prod", request.PathBase);
        Assert.Equal("/orders/42/lines", request.Path);
        Assert.Equal(new string?[] { "application/json", "text/plain" }, request.Headers["Accept"].ToArray());
        // Decoded values are re-encoded; every value of a repeated parameter is kept, in order.
        Assert.Equal("?tag=x%2Fy&tag=c%26d&q=a%20b", request.QueryString);
        Assert.Equal("/prod/orders/42/lines?tag=x%2Fy&tag=c%26d&q=a%20b", request.RawTarget);
        Assert.Equal("{\"item\":\"café\",\"qty\":2}", request.BodyText());
        Assert.Equal(IPAddress.Parse("198.51.100.23"), request.RemoteIpAddress);
    }

    [Fact]
    public void Custom_domain_base_path_becomes_path_base()
    {
        var request = GoldenEvents.Map("rest_api_custom_domain_base_path.json");

        Assert.Equal("/api/v1", request.PathBase);
        Assert.Equal("/items/7", request.Path);
        Assert.Equal("", request.QueryString);
        Assert.True(request.Body.IsEmpty);
        Assert.Equal(IPAddress.Parse("2001:db8::7"), request.RemoteIpAddress);
    }

    [Fact]
    public void Nested_proxy_resource_keeps_the_whole_path_not_the_proxy_parameter()
    {
        var request = GoldenEvents.MapJson("""
            {"resource":"/user/{proxy+}","path":"/user/session","httpMethod":"POST","pathParameters":{"proxy":"session"},
             "requestContext":{"path":"/dev/user/session","stage":"dev","resourcePath":"/user/{proxy+}"}}
            """);

        Assert.Equal("/dev", request.PathBase);
        Assert.Equal("/user/session", request.Path);
    }

    [Fact]
    public void Catch_all_capture_without_stage_in_context_path_has_no_path_base()
    {
        var request = GoldenEvents.Map("example-apigw-request-catch-all.json");

        Assert.Equal("", request.PathBase);
        Assert.Equal("/hello/world", request.Path);
    }

    [Fact]
    public void Missing_host_falls_back_to_the_domain_name()
    {
        var request = GoldenEvents.MapJson("""
            {"path":"/x","httpMethod":"GET","headers":{"Accept":"*/*"},"requestContext":{"domainName":"abc.execute-api.us-east-1.amazonaws.com"}}
            """);

        Assert.Equal("abc.execute-api.us-east-1.amazonaws.com", request.Headers["Host"].ToString());
    }

    [Fact]
    public void Without_host_or_domain_name_there_is_no_host()
    {
        var request = GoldenEvents.Map("apigw_no_host.json");

        Assert.False(request.Headers.ContainsKey("Host"));
        Assert.Equal("/hello", request.Path);
    }

    [Fact]
    public void Mutual_tls_client_certificate_is_available()
    {
        var request = GoldenEvents.Map("rest_api_stage_cognito_mtls.json");

        Assert.NotNull(request.ClientCertificate);
        Assert.Equal("CN=client.example.com, O=Example Corp, C=US", request.ClientCertificate.Subject);
        Assert.Equal("32896902D8B380C245FAA400756C8830EFD03851", request.ClientCertificate.SerialNumber);
    }

    [Fact]
    public void Cognito_claims_become_the_user_when_asked()
    {
        var options = new LambdaStreamingOptions { MapIdentityToUser = true };

        var user = GoldenEvents.Map("rest_api_stage_cognito_mtls.json", options).User;
        var notAsked = GoldenEvents.Map("rest_api_stage_cognito_mtls.json").User;

        Assert.Null(notAsked);
        Assert.NotNull(user);
        Assert.True(user.Identity!.IsAuthenticated);
        Assert.Equal(IdentityMapper.RestApiAuthorizer, user.Identity.AuthenticationType);
        Assert.Equal("7d8ca528-4931-4254-9273-ea5ee853f271", user.Identity.Name);
        Assert.Equal("alice@example.com", user.FindFirstValue("email"));
        Assert.Equal("alice", user.FindFirstValue("cognito:username"));
    }

    [Fact]
    public void Lambda_authorizer_context_becomes_claims_with_principal_id_as_name()
    {
        var options = new LambdaStreamingOptions { MapIdentityToUser = true };

        var user = GoldenEvents.Map("rest_api_custom_domain_base_path.json", options).User!;

        Assert.Equal("user-123", user.Identity!.Name);
        Assert.Equal("acme", user.FindFirstValue("tenant"));
        Assert.Equal("true", user.FindFirstValue("admin"));
        Assert.Equal("250", user.FindFirstValue("quota"));
        Assert.Null(user.FindFirst("integrationLatency"));
    }

    [Fact]
    public void Rest_path_with_encoded_characters_is_decoded_like_kestrel()
    {
        var request = GoldenEvents.MapJson("""
            {"resource":"/{proxy+}","path":"/files/a%20b%2Fc","httpMethod":"GET",
             "requestContext":{"path":"/dev/files/a%20b%2Fc","stage":"dev"}}
            """);

        Assert.Equal("/dev", request.PathBase);
        Assert.Equal("/files/a b%2Fc", request.Path);
    }

    [Theory]
    [InlineData("/prod/", "/", "/prod")]
    [InlineData("/prod", "/", "/prod")]
    [InlineData("/", "/", "")]
    [InlineData("/prod/prod/x", "/prod/x", "/prod")]
    public void Root_and_repeated_stage_paths_split_correctly(string contextPath, string path, string expectedBase)
    {
        var request = GoldenEvents.MapJson(
            "{\"path\":\"" + path + "\",\"httpMethod\":\"GET\",\"requestContext\":{\"path\":\"" + contextPath + "\",\"stage\":\"prod\"}}");

        Assert.Equal(expectedBase, request.PathBase);
        Assert.Equal(path, request.Path);
    }
}

public class HttpApiPayloadV1Tests
{
    [Fact]
    public void Http_api_payload_1_is_an_http_api_answered_the_rest_way()
    {
        var request = GoldenEvents.Map("http_api_payload_v1.json", new LambdaStreamingOptions { MapIdentityToUser = true });

        Assert.Equal(LambdaEventSource.HttpApi, request.Source);
        Assert.Equal(ResponseShape.RestApi, request.ResponseShape);
        Assert.Equal("/my/path", request.Path);
        Assert.Equal("", request.PathBase);
        Assert.Equal("?parameter1=value1&parameter1=value2&parameter2=value", request.QueryString);
        Assert.Equal(new string?[] { "value1", "value2" }, request.Headers["header2"].ToArray());
        Assert.Equal("Hello from Lambda!", request.BodyText());
        Assert.Null(request.User);
    }

    [Theory]
    [InlineData(LambdaEventSource.RestApi)]
    [InlineData(LambdaEventSource.HttpApi)]
    public void Payload_1_events_may_be_pinned_to_rest_or_http_api(LambdaEventSource pinned)
    {
        var request = GoldenEvents.Map("http_api_payload_v1.json", new LambdaStreamingOptions { EventSource = pinned });

        Assert.Equal(pinned, request.Source);
    }

    [Fact]
    public void Payload_1_event_pinned_to_function_url_is_a_mismatch()
    {
        var ex = Assert.Throws<InvalidEventException>(() =>
            GoldenEvents.Map("http_api_payload_v1.json", new LambdaStreamingOptions { EventSource = LambdaEventSource.FunctionUrl }));

        Assert.Equal("LambdaStreaming.EventSourceMismatch", ex.ErrorType);
        Assert.Contains("HTTP API event (payload 1.0)", ex.Message, StringComparison.Ordinal);
    }
}
