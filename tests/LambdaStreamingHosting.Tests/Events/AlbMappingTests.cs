using System.Net;
using LambdaStreamingHosting.Events;

namespace LambdaStreamingHosting.Tests.Events;

public class AlbMappingTests
{
    [Fact]
    public void Single_value_alb_event_answers_in_single_value_style()
    {
        var request = GoldenEvents.Map("alb_request.json");

        Assert.Equal(LambdaEventSource.ApplicationLoadBalancer, request.Source);
        Assert.Equal(ResponseShape.AlbSingleValue, request.ResponseShape);
        Assert.Equal("", request.PathBase);
    }

    [Fact]
    public void Multi_value_alb_event_answers_in_multi_value_style()
    {
        var request = GoldenEvents.Map("alb_multi_value_request.json");

        Assert.Equal(ResponseShape.AlbMultiValue, request.ResponseShape);
        Assert.Equal("?myKey=val1&myKey=val2&myOtherKey=val3&myOtherKey=val4", request.QueryString);
    }

    [Fact]
    public void Query_values_stay_as_the_client_sent_them()
    {
        var single = GoldenEvents.Map("alb_request_encoded_query_parameters.json");
        var multi = GoldenEvents.Map("alb_multi_value_request_encoded_query_parameters.json");

        Assert.Equal("?myKey=%3FshowAll%3Dtrue", single.QueryString);
        Assert.Contains("%3F", multi.QueryString, StringComparison.Ordinal);
        Assert.Equal("request_body", single.BodyText());
    }

    [Fact]
    public void Multi_value_post_maps_path_headers_body_and_caller()
    {
        var request = GoldenEvents.Map("alb_multi_value_post_base64.json");

        Assert.Equal("POST", request.Method);
        Assert.Equal("/upload/a file", request.Path);
        Assert.Equal("/upload/a%20file?name=a%20b&name=c%26d&flag=", request.RawTarget);
        Assert.Equal(new string?[] { "image/png", "image/*;q=0.8" }, request.Headers["Accept"].ToArray());
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, request.Body.ToArray());
        Assert.Equal("http", request.Scheme);
        Assert.Equal(80, request.LocalPort);
        // The load balancer appends the address it saw: the last X-Forwarded-For entry.
        Assert.Equal(IPAddress.Parse("10.0.0.9"), request.RemoteIpAddress);
    }

    [Fact]
    public void Health_check_and_missing_host_map_without_host()
    {
        var health = GoldenEvents.Map("alb_health_check.json");
        var noHost = GoldenEvents.Map("alb_no_host.json");

        Assert.Equal("GET", health.Method);
        Assert.Equal("/", health.Path);
        Assert.True(health.Body.IsEmpty);
        Assert.Null(health.RemoteIpAddress);
        Assert.False(noHost.Headers.ContainsKey("Host"));
    }
}
