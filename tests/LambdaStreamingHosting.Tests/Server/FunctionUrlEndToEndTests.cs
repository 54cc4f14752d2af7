using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// The client's view: a real HttpClient calls the emulator's Function URL (RESPONSE_STREAM), which invokes the app
/// through its Runtime API. Each part of the body reaches the client before the app writes the next.
/// </summary>
public sealed class FunctionUrlEndToEndTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TaskCompletionSource _firstPartRead = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LambdaEmulator? _emulator;
    private WebApplication? _app;
    private HttpClient? _client;

    public async Task InitializeAsync()
    {
        _emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions()).WaitAsync(Patience);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddLambdaStreaming();
        builder.Services.AddLambdaServer(_emulator.RuntimeApiEndpoint);
        _app = builder.Build();
        Map(_app);
        await _app.StartAsync().WaitAsync(Patience);
        _client = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = _emulator.FunctionUrl, Timeout = Patience };
    }

    public async Task DisposeAsync()
    {
        _firstPartRead.TrySetResult();
        _client?.Dispose();
        await _app!.StopAsync().WaitAsync(Patience);
        await _app.DisposeAsync();
        await _emulator!.DisposeAsync();
    }

    [Theory]
    [InlineData("/body-flush")]
    [InlineData("/body-writer")]
    [InlineData("/results-stream")]
    [InlineData("/json-async-enumerable")]
    [InlineData("/server-sent-events")]
    public async Task The_client_reads_the_first_part_before_the_app_writes_the_second(string path)
    {
        using var response = await _client!.GetAsync(path, HttpCompletionOption.ResponseHeadersRead).WaitAsync(Patience);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync();

        var soFar = await ReadUntilAsync(body, "first");
        Assert.DoesNotContain("second", soFar, StringComparison.Ordinal);
        _firstPartRead.SetResult();

        var rest = await new StreamReader(body).ReadToEndAsync().WaitAsync(Patience);
        Assert.Contains("second", soFar + rest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_headers_and_cookies_reach_the_client_exactly()
    {
        using var response = await _client!.GetAsync("/cookies").WaitAsync(Patience);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(["a=1; path=/", "b=2; path=/x; httponly"], response.Headers.GetValues("Set-Cookie"));
        Assert.Equal("one, two", string.Join(", ", response.Headers.GetValues("X-Multi")));
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("cookies", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_204_reaches_the_client_while_the_app_is_still_running()
    {
        using var response = await _client!.GetAsync("/no-content", HttpCompletionOption.ResponseContentRead).WaitAsync(Patience);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        _firstPartRead.SetResult();
    }

    [Fact]
    public async Task A_mid_stream_failure_is_recorded_as_an_error_not_a_clean_end()
    {
        using var response = await _client!.GetAsync("/fail-mid-stream", HttpCompletionOption.ResponseHeadersRead).WaitAsync(Patience);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync();
        var read = new MemoryStream();
        try
        {
            await body.CopyToAsync(read).WaitAsync(Patience);
        }
        catch (HttpRequestException)
        {
            // The front door may cut the client off, as Lambda does.
        }
        catch (IOException)
        {
        }

        Assert.StartsWith("partial;", Encoding.UTF8.GetString(read.ToArray()), StringComparison.Ordinal);
        var record = Assert.Single(await _emulator!.WaitForInvocationsAsync(1).WaitAsync(Patience));
        Assert.Equal("InvalidOperationException", record.ErrorType); // the exception's type name, as Lambda's runtimes report it
        Assert.Empty(_emulator.ProtocolViolations);
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/body-flush", async context =>
        {
            await context.Response.Body.WriteAsync("first;"u8.ToArray());
            await context.Response.Body.FlushAsync();
            await _firstPartRead.Task.WaitAsync(Patience);
            await context.Response.Body.WriteAsync("second;"u8.ToArray());
        });
        app.MapGet("/body-writer", async context =>
        {
            await context.Response.BodyWriter.WriteAsync("first;"u8.ToArray());
            await _firstPartRead.Task.WaitAsync(Patience);
            await context.Response.BodyWriter.WriteAsync("second;"u8.ToArray());
        });
        app.MapGet("/results-stream", () => Results.Stream(async stream =>
        {
            await stream.WriteAsync("first;"u8.ToArray());
            await stream.FlushAsync();
            await _firstPartRead.Task.WaitAsync(Patience);
            await stream.WriteAsync("second;"u8.ToArray());
        }, "text/plain"));
        app.MapGet("/json-async-enumerable", () => Parts());
        app.MapGet("/server-sent-events", () => TypedResults.ServerSentEvents(Parts()));
        app.MapGet("/cookies", async context =>
        {
            context.Response.StatusCode = 201;
            context.Response.ContentType = "text/plain";
            context.Response.Cookies.Append("a", "1");
            context.Response.Cookies.Append("b", "2", new CookieOptions { HttpOnly = true, Path = "/x" });
            context.Response.Headers.Append("X-Multi", "one");
            context.Response.Headers.Append("X-Multi", "two");
            await context.Response.WriteAsync("cookies");
        });
        app.MapGet("/no-content", async context =>
        {
            context.Response.StatusCode = 204;
            await context.Response.StartAsync();
            await _firstPartRead.Task.WaitAsync(Patience);
        });
        app.MapGet("/fail-mid-stream", async context =>
        {
            await context.Response.WriteAsync("partial;");
            throw new InvalidOperationException("mid-stream failure");
        });
    }

    private async IAsyncEnumerable<string> Parts([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        yield return "first";
        await _firstPartRead.Task.WaitAsync(cancellationToken).WaitAsync(Patience, cancellationToken);
        yield return "second";
    }

    private static async Task<string> ReadUntilAsync(Stream body, string text)
    {
        var received = new StringBuilder();
        var buffer = new byte[1024];
        while (!received.ToString().Contains(text, StringComparison.Ordinal))
        {
            var read = await body.ReadAsync(buffer).AsTask().WaitAsync(Patience);
            Assert.True(read > 0, $"the body ended before '{text}' arrived: {received}");
            received.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }

        return received.ToString();
    }
}
