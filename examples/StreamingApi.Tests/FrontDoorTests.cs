using System.Diagnostics;
using System.Net;
using System.Net.ServerSentEvents;
using System.Security.Cryptography;
using System.Text;
using LambdaStreamingHosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace StreamingApi.Tests;

/// <summary>The app as deploy/template.yaml configures it behind CloudFront: the viewer's host from X-Forwarded-Host.</summary>
public sealed class BehindCloudFrontFactory : StreamingApiFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("FrontDoor:TrustForwardedHost", "true");
    }
}

/// <summary>The app as deploy/template.yaml configures it behind a streaming REST API, behind the emulator's.</summary>
public sealed class BehindRestApiFactory : StreamingApiFactory
{
    public BehindRestApiFactory() => EmulatorOptions.RestApiStreaming = true;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting($"{LambdaStreamingOptions.ConfigurationSectionName}:{nameof(LambdaStreamingOptions.EventSource)}", nameof(LambdaEventSource.RestApi));
    }
}

/// <summary>Records what arrives at <c>POST /notes</c>: the x-amz-content-sha256 header and the body it should hash.</summary>
public sealed class RecordingNotesFactory : StreamingApiFactory
{
    public List<(string? ContentSha256, byte[] Body)> Posts { get; } = [];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<IStartupFilter>(new RecordPosts(Posts)));
    }

    private sealed class RecordPosts(List<(string?, byte[])> posts) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                if (HttpMethods.IsPost(context.Request.Method) && context.Request.Path == "/notes")
                {
                    context.Request.EnableBuffering();
                    using var copy = new MemoryStream();
                    await context.Request.Body.CopyToAsync(copy);
                    context.Request.Body.Position = 0;
                    lock (posts)
                    {
                        posts.Add((context.Request.Headers["x-amz-content-sha256"].ToString() is { Length: > 0 } hash ? hash : null, copy.ToArray()));
                    }
                }

                await nextMiddleware(context);
            });
            next(app);
        };
    }
}

public sealed class ForwardedHostTests(BehindCloudFrontFactory behindCloudFront, StreamingApiFactory direct)
    : IClassFixture<BehindCloudFrontFactory>, IClassFixture<StreamingApiFactory>
{
    [Fact]
    public async Task Behind_cloudfront_the_app_sees_the_viewers_host_from_x_forwarded_host()
    {
        using var client = behindCloudFront.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/request-url");
        request.Headers.Add("X-Forwarded-Host", "app.example.com");
        using var response = await client.SendAsync(request);
        response.EnsureSuccessStatusCode();

        // The emulator's URL is plain HTTP, so its X-Forwarded-Proto says http; CloudFront's says https.
        Assert.Equal("http://app.example.com/request-url", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Reached_directly_the_app_ignores_x_forwarded_host()
    {
        using var client = direct.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/request-url");
        request.Headers.Add("X-Forwarded-Host", "evil.example.com");
        using var response = await client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        Assert.Equal(new Uri(direct.Emulator.FunctionUrl, "/request-url").ToString(), await response.Content.ReadAsStringAsync());
    }
}

public sealed class RestApiStreamingTests(BehindRestApiFactory factory) : IClassFixture<BehindRestApiFactory>
{
    [Fact]
    public async Task Behind_a_streaming_rest_api_each_token_arrives_before_the_next_one_is_generated()
    {
        using var client = new HttpClient { BaseAddress = factory.Emulator.RestApiUrl };
        var responseTask = client.GetAsync("tokens?prompt=hello", HttpCompletionOption.ResponseHeadersRead);
        factory.Tokens.Produce("one ");
        using var response = await responseTask.WaitAsync(Wait.Timeout);
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);

        await using var body = await response.Content.ReadAsStreamAsync();
        await using var events = SseParser.Create(body).EnumerateAsync().GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Wait.Timeout));
        Assert.Equal("one ", events.Current.Data);

        // The second token does not exist until the first was read: the REST API streamed it.
        factory.Tokens.Produce("two");
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Wait.Timeout));
        Assert.Equal("two", events.Current.Data);
        factory.Tokens.Complete();
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Wait.Timeout));
        Assert.Equal("done", events.Current.EventType);
    }
}

public sealed class ContentSha256Tests(RecordingNotesFactory factory) : IClassFixture<RecordingNotesFactory>
{
    /// <summary>
    /// The notebook page's script (its module, run by Node.js's own fetch and WebCrypto) posts a note with the body's
    /// SHA-256 in x-amz-content-sha256, as CloudFront's origin access control needs.
    /// </summary>
    [Fact]
    public async Task The_notebook_pages_script_posts_with_the_bodys_sha256()
    {
        using var client = factory.CreateClient();
        var page = await client.GetStringAsync("/notebook");
        Assert.Contains("import { postJson } from '/signed-body.js';", page, StringComparison.Ordinal);
        Assert.Contains("postJson('/notes',", page, StringComparison.Ordinal);
        var module = await client.GetStringAsync("/signed-body.js");

        var work = Directory.CreateTempSubdirectory("streamingapi-signed-body-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(work.FullName, "signed-body.mjs"), module);
            await File.WriteAllTextAsync(Path.Combine(work.FullName, "post.mjs"), """
                import { postJson } from './signed-body.mjs';
                const response = await postJson(process.argv[2], { text: process.argv[3] });
                console.log(response.status);
                """);
            var (exitCode, output) = await RunNodeAsync(work.FullName, "post.mjs", new Uri(factory.Emulator.FunctionUrl, "/notes").ToString(), "signed ünïcode note");
            Assert.True(exitCode == 0, output);
            Assert.Equal("201", output.Trim());
        }
        finally
        {
            work.Delete(recursive: true);
        }

        var (hash, body) = Assert.Single(factory.Posts, p => Encoding.UTF8.GetString(p.Body).Contains("signed", StringComparison.Ordinal));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(body)), hash);
    }

    /// <summary>The README's HttpClient handler: every request with a body gets its SHA-256.</summary>
    [Fact]
    public async Task The_readmes_httpclient_handler_sends_the_bodys_sha256()
    {
        using var client = new HttpClient(new ContentSha256Handler { InnerHandler = new HttpClientHandler() }) { BaseAddress = factory.Emulator.FunctionUrl };
        using var response = await client.PostAsync("/notes", new StringContent("""{"text":"from HttpClient"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var (hash, body) = Assert.Single(factory.Posts, p => Encoding.UTF8.GetString(p.Body).Contains("from HttpClient", StringComparison.Ordinal));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(body)), hash);
    }

    private static async Task<(int ExitCode, string Output)> RunNodeAsync(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var node = Process.Start(start)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var error = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        return (node.ExitCode, await output + await error);
    }
}

/// <summary>
/// Adds x-amz-content-sha256 (the body's SHA-256, hex) to every request with a body, as CloudFront's origin access
/// control to a Lambda Function URL needs for POST and PUT. The README shows this handler.
/// </summary>
public sealed class ContentSha256Handler : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Content is not null)
        {
            var body = await request.Content.ReadAsByteArrayAsync(cancellationToken);
            request.Headers.Add("x-amz-content-sha256", Convert.ToHexStringLower(SHA256.HashData(body)));
        }

        return await base.SendAsync(request, cancellationToken);
    }
}
