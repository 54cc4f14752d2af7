using System.Net.ServerSentEvents;

namespace StreamingApi.Tests;

public sealed class ServerSentEventsTests(StreamingApiFactory factory) : IClassFixture<StreamingApiFactory>
{
    [Fact]
    public async Task Each_token_reaches_the_client_before_the_next_one_is_generated()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/tokens?prompt=hello", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);

        await using var body = await response.Content.ReadAsStreamAsync();
        await using var events = SseParser.Create(body).EnumerateAsync().GetAsyncEnumerator();

        // The generator only produces a token when the test writes it, so each event read here was sent by the
        // server while the next token did not exist yet: the events arrive one by one, not all at the end.
        string[] tokens = ["Streaming ", "is ", "fast."];
        for (var i = 0; i < tokens.Length; i++)
        {
            factory.Tokens.Produce(tokens[i]);
            Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Wait.Timeout), $"the stream ended before token {i + 1}");
            Assert.Equal("token", events.Current.EventType);
            Assert.Equal(tokens[i], events.Current.Data);
            Assert.Equal((i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), events.Current.EventId);
        }

        factory.Tokens.Complete();
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Wait.Timeout));
        Assert.Equal("done", events.Current.EventType);
        Assert.Equal("[DONE]", events.Current.Data);
        Assert.False(await events.MoveNextAsync().AsTask().WaitAsync(Wait.Timeout));
    }
}
