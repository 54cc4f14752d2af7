using System.Diagnostics;
using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using SampleApp;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>
/// How a user tests their app: <see cref="LambdaApplicationFactory{TEntryPoint}"/> boots the unchanged Program.cs (with
/// its <c>AddLambdaStreaming()</c> line) in Lambda mode behind the emulator's Function URL.
/// </summary>
public class SampleAppTests : IClassFixture<LambdaApplicationFactory<Program>>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly LambdaApplicationFactory<Program> _factory;

    public SampleAppTests(LambdaApplicationFactory<Program> factory) => _factory = factory;

    [Fact]
    public async Task Requests_go_through_the_function_url_and_the_lambda_server()
    {
        using var client = _factory.CreateClient();
        var response = await client.GetAsync("/hello");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Hello from Lambda", await response.Content.ReadAsStringAsync());
        Assert.Equal(_factory.Emulator.FunctionUrl, client.BaseAddress);
        Assert.Contains(_factory.Emulator.Invocations, i => i.Target == "/hello" && i.StatusCode == 200 && i.Streamed);
    }

    [Fact]
    public async Task Chunks_arrive_while_the_app_is_still_writing()
    {
        // Replace the app's pace with one the test controls: each line is written only when the test says so.
        var ticks = new ControlledTicks();
        await using var factory = _factory.WithWebHostBuilder(web => web.ConfigureTestServices(services => services.AddSingleton<ITicks>(ticks)));
        using var client = factory.CreateClient();

        var clock = Stopwatch.StartNew();
        ticks.Release(); // the app may write line 1 (its status and headers go with it)
        using var response = await client.GetAsync("/ticks?count=3", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var seen = new List<(string Line, TimeSpan At)>();
        for (var i = 1; i <= 3; i++)
        {
            var line = await reader.ReadLineAsync().WaitAsync(Patience);
            seen.Add((line!, clock.Elapsed));
            Assert.Equal(i, ticks.Released); // line i arrived before line i + 1 was even allowed to be written
            ticks.Release();
        }

        Assert.Equal(["tick 1", "tick 2", "tick 3"], seen.Select(s => s.Line));
        Assert.True(seen[0].At < seen[2].At);
        Assert.Null(await reader.ReadLineAsync().WaitAsync(Patience));
        var record = (await factory.Emulator.WaitForInvocationsAsync(1)).Single();
        Assert.True(record.TimeToFirstByte < record.Duration);
    }

    [Fact]
    public async Task Each_cookie_gets_its_own_set_cookie_header()
    {
        using var client = _factory.CreateDefaultClient(); // no cookie container: see the raw headers
        var response = await client.GetAsync("/cookies");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cookies = response.Headers.GetValues("Set-Cookie").ToList();
        Assert.Equal(2, cookies.Count);
        Assert.Contains(cookies, c => c.StartsWith("session=abc", StringComparison.Ordinal) && c.Contains("httponly", StringComparison.Ordinal));
        Assert.Contains(cookies, c => c.StartsWith("theme=dark", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failure_after_streaming_started_cuts_the_connection_and_is_logged()
    {
        using var client = _factory.CreateClient();
        using var response = await client.GetAsync("/fail-midway", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // the status went out before the failure
        var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[8];
        await body.ReadExactlyAsync(buffer).AsTask().WaitAsync(Patience);
        Assert.Equal("partial ", System.Text.Encoding.UTF8.GetString(buffer));
        await Assert.ThrowsAnyAsync<IOException>(() => body.CopyToAsync(Stream.Null).WaitAsync(Patience));

        var record = (await _factory.Emulator.WaitForInvocationsAsync(1)).Last(i => i.Target == "/fail-midway");
        Assert.NotNull(record.ErrorType);
        Assert.True(record.ClientAborted);
    }

    [Fact]
    public async Task Request_bodies_reach_the_app()
    {
        using var client = _factory.CreateClient();
        var payload = new byte[] { 0, 1, 2, 255 };
        var response = await client.PostAsync("/echo", new ByteArrayContent(payload));
        Assert.Equal(payload, await response.Content.ReadAsByteArrayAsync());
    }

    /// <summary>Lets the test decide when the app writes each line.</summary>
    private sealed class ControlledTicks : ITicks
    {
        private readonly Channel<bool> _permits = Channel.CreateUnbounded<bool>();
        private int _released;

        public int Released => Volatile.Read(ref _released);

        public void Release()
        {
            Interlocked.Increment(ref _released);
            _permits.Writer.TryWrite(true);
        }

        public async Task NextAsync(CancellationToken cancellationToken) => await _permits.Reader.ReadAsync(cancellationToken);
    }
}
