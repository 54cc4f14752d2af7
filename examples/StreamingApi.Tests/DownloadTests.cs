using System.Net;
using StreamingApi.Streaming;

namespace StreamingApi.Tests;

public sealed class DownloadTests(StreamingApiFactory factory) : IClassFixture<StreamingApiFactory>
{
    [Fact]
    public async Task A_download_larger_than_the_buffered_limit_arrives_whole_and_in_order()
    {
        // 8 MiB: more than a buffered Lambda response may carry (6 MB), so only streaming can deliver it.
        const int megabytes = 8;
        using var client = factory.CreateClient();
        using var response = await client.GetAsync($"/download?mb={megabytes}", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal($"payload-{megabytes}mb.bin", response.Content.Headers.ContentDisposition?.FileNameStar ?? response.Content.Headers.ContentDisposition?.FileName);

        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[81_920];
        long offset = 0;
        int read;
        while ((read = await body.ReadAsync(buffer).AsTask().WaitAsync(Wait.Timeout)) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                if (buffer[i] != GeneratedPayload.ByteAt(offset + i))
                {
                    Assert.Fail($"byte {offset + i} is {buffer[i]}, expected {GeneratedPayload.ByteAt(offset + i)}");
                }
            }

            offset += read;
        }

        Assert.Equal(megabytes * 1024L * 1024L, offset);
    }

    [Theory]
    [InlineData("/download")]
    [InlineData("/download?mb=0")]
    [InlineData("/download?mb=201")]
    public async Task A_size_outside_the_Lambda_limit_is_a_clear_bad_request(string path)
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("from 1 to 200", await response.Content.ReadAsStringAsync());
    }
}
