using System.Text;
using StreamingApi.Components;

namespace StreamingApi.Tests;

public sealed class StreamingRenderingTests(StreamingApiFactory factory) : IClassFixture<StreamingApiFactory>
{
    [Fact]
    public async Task The_page_arrives_with_its_placeholder_and_the_data_is_streamed_into_it_later()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/report", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);

        await using var body = await response.Content.ReadAsStreamAsync();
        var html = new StringBuilder();

        // The report's data does not exist yet, so this part of the page was streamed before the rendering finished.
        var initial = await Wait.ReadUntilAsync(body, html, "</html>");
        Assert.Contains("Loading the report", initial);
        Assert.DoesNotContain("<blazor-ssr>", initial);

        factory.Report.Release([new ReportRow("North", 1200), new ReportRow("South", 950)]);
        var complete = await Wait.ReadUntilAsync(body, html, "</blazor-ssr>");
        var update = complete[complete.IndexOf("<blazor-ssr>", StringComparison.Ordinal)..];
        Assert.Contains("<td>North</td><td>1200</td>", update);
        Assert.Contains("<td>South</td><td>950</td>", update);
        Assert.Equal(0, await body.ReadAsync(new byte[1]).AsTask().WaitAsync(Wait.Timeout));
    }
}
