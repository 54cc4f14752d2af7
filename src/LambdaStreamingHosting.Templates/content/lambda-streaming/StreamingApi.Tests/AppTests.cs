using System.Net.ServerSentEvents;
using LambdaStreamingHosting.Testing;

namespace StreamingApi.Tests;

/// <summary>
/// The app running in Lambda mode behind a local Lambda emulator: requests go through a streaming Function URL, as
/// they will once deployed.
/// </summary>
public sealed class AppTests(LambdaApplicationFactory<Program> factory) : IClassFixture<LambdaApplicationFactory<Program>>
{
    [Fact]
    public async Task The_root_answers_through_the_function_url()
    {
        using var client = factory.CreateClient();
        var text = await client.GetStringAsync("/");
        Assert.StartsWith("Hello from ASP.NET Core on AWS Lambda", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tokens_arrive_as_server_sent_events()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/tokens", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);

        var tokens = new List<string>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
        {
            Assert.Equal("token", item.EventType);
            tokens.Add(item.Data);
        }

        Assert.Equal(Enumerable.Range(1, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), tokens);
    }
}
