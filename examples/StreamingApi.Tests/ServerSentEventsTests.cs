using System.Net.ServerSentEvents;

namespace StreamingApi.Tests;

public sealed class ServerSentEventsTests(StreamingApiFactory factory) : IClassFixture<StreamingApiFactory>
{
    [Fact]
    public async Task Each_token_reaches_the_client_before_the_next_one_is_generated()
    {
        string[] tokens = ["Streaming ", "is ", "fast."];
        using var client = factory.CreateClient();

        // The generator only produces a token when the test writes it. Like Kestrel, the app sends its headers with the
        // first event, so the first token is produced before the response is awaited.
        var responseTask = client.GetAsync("/tokens?prompt=hello", HttpCompletionOption.ResponseHeadersRead);
        factory.Tokens.Produce(tokens[0]);
        using var response = await responseTask.WaitAsync(Wait.Timeout);
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);

        await using var body = await response.Content.ReadAsStreamAsync();
        await using var events = SseParser.Create(body).EnumerateAsync().GetAsyncEnumerator();

        // Each event is read here while the next token does not exist yet: the events arrive one by one, as they are
        // generated, not all together at the end.
        for (var i = 0; i < tokens.Length; i++)
        {
            Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Wait.Timeout), $"the stream ended before token {i + 1}");
            Assert.Equal("token", events.Current.EventType);
            Assert.Equal(tokens[i], events.Current.Data);
            Assert.Equal((i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), events.Current.EventId);
            if (i + 1 < tokens.Length)
            {
                factory.Tokens.Produce(tokens[i + 1]);
            }
        }

        factory.Tokens.Complete();
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Wait.Timeout));
        Assert.Equal("done", events.Current.EventType);
        Assert.Equal("[DONE]", events.Current.Data);
        Assert.False(await events.MoveNextAsync().AsTask().WaitAsync(Wait.Timeout));
    }
}
