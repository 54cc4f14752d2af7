using System.Text;
using LambdaStreamingHosting.RuntimeApi;
using LambdaStreamingHosting.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>The keep-alive option (binding, validation) and where a body ends relative to its events.</summary>
public sealed class SseKeepAliveOptionsTests
{
    [Theory]
    [InlineData("", true)]
    [InlineData("data: a\n\n", true)]
    [InlineData("data: a\r\n\r\n", true)]
    [InlineData("data: a\r\r", true)]
    [InlineData("data: a\r\n\n", true)]
    [InlineData("data: a\n\r\n", true)]
    [InlineData("data: a\r\r\n", true)]
    [InlineData(": comment\n\n", true)]
    [InlineData("data: a", false)]
    [InlineData("data: a\n", false)]
    [InlineData("data: a\r\n", false)]
    [InlineData("data: a\r", false)]
    [InlineData("data: a\n\r", false)] // the CR's LF may still come
    [InlineData("data: a\r\n\r", false)]
    [InlineData("\n", false)]
    [InlineData("\r\n", false)]
    public void A_body_ends_an_event_after_an_empty_line(string body, bool endsEvent)
    {
        // Whole, and written a byte at a time: the same answer whichever way the bytes came.
        var whole = default(EventStreamTail);
        whole.Append(Encoding.ASCII.GetBytes(body));
        var bytewise = default(EventStreamTail);
        foreach (var b in Encoding.ASCII.GetBytes(body))
        {
            bytewise.Append([b]);
        }

        Assert.Equal(endsEvent, whole.EndsEvent);
        Assert.Equal(endsEvent, bytewise.EndsEvent);
    }

    [Fact]
    public void The_comment_is_one_HTTP_chunk_of_a_comment_line_and_an_empty_line()
    {
        var chunk = SseKeepAlive.CommentChunk;
        Assert.Equal("E\r\n: keep-alive\n\n\r\n", Encoding.ASCII.GetString(chunk.Array!, chunk.Offset, chunk.Count));
    }

    [Theory]
    [InlineData(null, 15_000.0)]
    [InlineData("00:00:20", 20_000.0)]
    [InlineData("00:00:00", 0.0)]
    public void The_interval_binds_from_configuration_and_is_15_seconds_by_default(string? configured, double milliseconds)
    {
        var builder = WebApplication.CreateSlimBuilder();
        if (configured is not null)
        {
            builder.Configuration["LambdaStreaming:ServerSentEventsKeepAliveInterval"] = configured;
        }

        builder.Services.AddLambdaStreaming();
        using var app = builder.Build();

        var options = app.Services.GetRequiredService<IOptions<LambdaStreamingOptions>>().Value;
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), options.ServerSentEventsKeepAliveInterval);
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(900.0)]
    public void An_interval_out_of_range_fails_validation_with_what_to_change(double seconds)
    {
        var validator = new LambdaStreamingOptionsValidator(new LambdaServerSettings { RuntimeApiEndpoint = "127.0.0.1:9001" });
        var options = new LambdaStreamingOptions { ServerSentEventsKeepAliveInterval = TimeSpan.FromSeconds(seconds) };

        var result = validator.Validate(null, options);

        var failure = Assert.Single(result.Failures ?? []);
        Assert.Equal(
            $"LambdaStreaming:ServerSentEventsKeepAliveInterval must be at least 00:00:00 (no keep-alive comments) and less than 00:15:00 (Lambda's longest timeout); it is {TimeSpan.FromSeconds(seconds):c}.",
            failure);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.001)]
    [InlineData(899.0)]
    public void An_interval_in_range_or_none_passes(double seconds)
    {
        var validator = new LambdaStreamingOptionsValidator(new LambdaServerSettings { RuntimeApiEndpoint = "127.0.0.1:9001" });
        var options = new LambdaStreamingOptions { ServerSentEventsKeepAliveInterval = TimeSpan.FromSeconds(seconds) };

        Assert.True(validator.Validate(null, options).Succeeded);
    }
}
