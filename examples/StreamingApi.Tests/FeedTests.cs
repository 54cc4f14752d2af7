using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StreamingApi.Streaming;

namespace StreamingApi.Tests;

public sealed class FeedTests(StreamingApiFactory factory) : IClassFixture<StreamingApiFactory>
{
    [Fact]
    public async Task The_async_enumerable_feed_is_one_json_array_of_every_item()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/feed?count=25&intervalMs=0", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);

        var items = new List<FeedItem>();
        await foreach (var item in response.Content.ReadFromJsonAsAsyncEnumerable<FeedItem>(JsonSerializerOptions.Web))
        {
            items.Add(item!);
        }

        Assert.Equal(Enumerable.Range(1, 25), items.Select(i => i.Sequence));
        Assert.All(items, i => Assert.Equal($"Item {i.Sequence} of 25", i.Message));
    }

    [Fact]
    public async Task An_invalid_count_is_a_bad_request()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/feed?count=0");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
