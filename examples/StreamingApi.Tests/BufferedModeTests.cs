using System.Net.ServerSentEvents;
using LambdaStreamingHosting;

namespace StreamingApi.Tests;

/// <summary>The example behind a BUFFERED Function URL, with the app's InvokeMode set to match (as the deploy template does).</summary>
public sealed class BufferedStreamingApiFactory : StreamingApiFactory
{
    public BufferedStreamingApiFactory() => EmulatorOptions.InvokeMode = LambdaInvokeMode.Buffered;
}

public sealed class BufferedModeTests(BufferedStreamingApiFactory factory) : IClassFixture<BufferedStreamingApiFactory>
{
    [Fact]
    public async Task A_buffered_url_gets_the_whole_event_stream_at_once()
    {
        factory.Tokens.Produce("all ");
        factory.Tokens.Produce("at once");
        factory.Tokens.Complete();

        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/tokens");
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);

        var events = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
        {
            events.Add(item);
        }

        Assert.Equal(["all ", "at once", "[DONE]"], events.Select(e => e.Data));
    }
}
