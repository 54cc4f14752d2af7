using System.Net.Http.Json;
using StreamingApi.Streaming;

namespace StreamingApi.Tests;

public sealed class CookieTests(StreamingApiFactory factory) : IClassFixture<StreamingApiFactory>
{
    [Fact]
    public async Task Each_cookie_arrives_as_its_own_set_cookie_and_comes_back_on_the_next_request()
    {
        using var client = factory.CreateClient();

        using var first = await client.GetAsync("/cookies");
        first.EnsureSuccessStatusCode();
        var firstReport = await first.Content.ReadFromJsonAsync<VisitReport>();
        Assert.Equal(1, firstReport!.Visits);
        Assert.Empty(firstReport.CookiesReceived);

        var setCookies = first.Headers.GetValues("Set-Cookie").ToList();
        Assert.Equal(2, setCookies.Count);
        Assert.Contains(setCookies, c => c.StartsWith("visits=1;", StringComparison.Ordinal) && c.Contains("httponly", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(setCookies, c => c.StartsWith("last-visit=", StringComparison.Ordinal));

        // Send the cookies back the way a browser does: name=value pairs in one Cookie header.
        using var second = new HttpRequestMessage(HttpMethod.Get, "/cookies");
        second.Headers.Add("Cookie", string.Join("; ", setCookies.Select(c => c[..c.IndexOf(';', StringComparison.Ordinal)])));
        using var secondResponse = await client.SendAsync(second);
        var secondReport = await secondResponse.Content.ReadFromJsonAsync<VisitReport>();
        Assert.Equal(2, secondReport!.Visits);
        Assert.Equal(["last-visit", "visits"], secondReport.CookiesReceived);
        Assert.Contains(secondResponse.Headers.GetValues("Set-Cookie"), c => c.StartsWith("visits=2;", StringComparison.Ordinal));
    }
}
