using System.Text;
using LambdaStreamingHosting.Events;

namespace LambdaStreamingHosting.Tests.Events;

public class InvalidEventTests
{
    private static InvalidEventException MapFails(string json, LambdaEventSource pinned = LambdaEventSource.Auto) =>
        Assert.Throws<InvalidEventException>(() =>
            EventMapper.Map(Encoding.UTF8.GetBytes(json), new LambdaStreamingOptions { EventSource = pinned }));

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{\"version\":\"2.0\",}")]
    [InlineData("not json")]
    [InlineData("{\"version\":\"2.0\",\"requestContext\":{\"http\":{\"method\":\"GET\"}}} trailing")]
    [InlineData("{\"version\":\"2.0\",\"requestContext\":{\"http\":{\"method\":\"GET\"}}} {}")]
    [InlineData("{\"version\":\"2.0\",/* comment */\"requestContext\":{\"http\":{\"method\":\"GET\"}}}")]
    [InlineData("\uFEFF{\"version\":\"2.0\",\"requestContext\":{\"http\":{\"method\":\"GET\"}}}")]
    public void Invalid_json_is_reported_as_such(string json)
    {
        var ex = MapFails(json);

        Assert.Equal("LambdaStreaming.InvalidEventJson", ex.ErrorType);
    }

    [Fact]
    public void Wrong_field_type_names_the_path_and_the_expected_type()
    {
        var ex = MapFails("""{"version":"2.0","rawPath":42,"requestContext":{"http":{"method":"GET"}}}""");

        Assert.Equal("LambdaStreaming.InvalidEventField", ex.ErrorType);
        Assert.Equal("The event field $.rawPath has the wrong type: expected a string.", ex.Message);
    }

    [Theory]
    [InlineData("""{"version":"2.0","requestContext":{"http":{"method":"GET"}},"headers":["a"]}""", "$.headers", "an object")]
    [InlineData("""{"version":"2.0","requestContext":{"http":{"method":"GET"}},"isBase64Encoded":"yes"}""", "$.isBase64Encoded", "true or false")]
    [InlineData("""{"version":"2.0","requestContext":{"http":{"method":"GET"}},"cookies":"a=1"}""", "$.cookies", "an array")]
    [InlineData("""{"version":"2.0","requestContext":{"http":{"method":"GET"}},"body":{"a":1}}""", "$.body", "a string")]
    [InlineData("""{"httpMethod":"GET","requestContext":{"identity":{"sourceIp":7}}}""", "$.requestContext.identity.sourceIp", "a string")]
    [InlineData("""{"version":"2.0","requestContext":{"http":{"method":"GET"}},"headers":{"x-a":"1","X-A":5}}""", "$.headers.X-A", "a string")]
    public void Wrong_types_anywhere_are_reported_with_their_path(string json, string path, string expected)
    {
        var ex = MapFails(json);

        Assert.Equal("LambdaStreaming.InvalidEventField", ex.ErrorType);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.EndsWith($"expected {expected}.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lone_escaped_surrogate_in_a_header_value_is_not_text()
    {
        var ex = MapFails("""{"version":"2.0","requestContext":{"http":{"method":"GET"}},"headers":{"x-a":"\ud800"}}""");

        Assert.Equal("LambdaStreaming.InvalidEventField", ex.ErrorType);
        Assert.Contains("$.headers.x-a", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_method_is_an_invalid_field()
    {
        var ex = MapFails("""{"version":"2.0","rawPath":"/","requestContext":{"http":{}}}""");

        Assert.Equal("LambdaStreaming.InvalidEventField", ex.ErrorType);
        Assert.Contains("$.requestContext.http.method", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_base64_body_is_reported()
    {
        var ex = MapFails("""{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"POST"}},"body":"not*base64!","isBase64Encoded":true}""");

        Assert.Equal("LambdaStreaming.InvalidEventBase64", ex.ErrorType);
    }

    [Fact]
    public void Unknown_shape_lists_the_shapes_understood_and_the_fields_seen()
    {
        var ex = MapFails("""{"Records":[{"eventSource":"aws:sqs"}],"detail-type":"x"}""");

        Assert.Equal("LambdaStreaming.UnknownEventShape", ex.ErrorType);
        Assert.Contains("payload 2.0", ex.Message, StringComparison.Ordinal);
        Assert.Contains("REST", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Application Load Balancer", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"Records\", \"detail-type\"", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[1,2]", "array")]
    [InlineData("\"hello\"", "string")]
    [InlineData("42", "number")]
    [InlineData("null", "null")]
    public void Non_object_events_are_an_unknown_shape(string json, string kind)
    {
        var ex = MapFails(json);

        Assert.Equal("LambdaStreaming.UnknownEventShape", ex.ErrorType);
        Assert.Contains(kind, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pinned_source_rejects_another_shape_and_says_what_to_change()
    {
        var json = Encoding.UTF8.GetString(GoldenEvents.Read("alb_request.json"));

        var ex = MapFails(json, LambdaEventSource.RestApi);

        Assert.Equal("LambdaStreaming.EventSourceMismatch", ex.ErrorType);
        Assert.Contains("RestApi", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Application Load Balancer", ex.Message, StringComparison.Ordinal);
        Assert.Contains("LambdaStreaming__EventSource", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mapping_the_next_good_event_works_after_a_bad_one()
    {
        MapFails("{");

        var request = GoldenEvents.Map("lambda_function_url_request.json");

        Assert.Equal("/my/path", request.Path);
    }

    [Fact]
    public void Every_golden_event_maps()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "Events", "Golden");
        var names = Directory.GetFiles(dir, "*.json").Select(Path.GetFileName).ToList();

        Assert.True(names.Count >= 28, $"only {names.Count} golden events");
        foreach (var name in names)
        {
            var request = GoldenEvents.Map(name!, new LambdaStreamingOptions { MapIdentityToUser = true });
            Assert.False(string.IsNullOrEmpty(request.Method), name);
            Assert.StartsWith("/", request.Path, StringComparison.Ordinal);
        }
    }
}
