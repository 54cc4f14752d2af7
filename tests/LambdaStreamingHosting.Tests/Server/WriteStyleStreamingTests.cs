using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// Every way an app writes a body streams: the first part reaches the Runtime API before the app writes the second.
/// The app waits for a signal the test gives only after it read the first part, so nothing here depends on timing.
/// </summary>
public sealed class WriteStyleStreamingTests : IAsyncLifetime
{
    private readonly FakeRuntimeApi _api = new();
    private readonly TaskCompletionSource _firstPartRead = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _app;

    private readonly TestLogs _logs = new();

    public async Task InitializeAsync() => _app = await TestApp.StartAsync(_api, Map, logs: _logs);

    public async Task DisposeAsync()
    {
        await _app!.StopAsync();
        await _app.DisposeAsync();
        await _api.DisposeAsync();
    }

    [Theory]
    [InlineData("/body-flush")]
    [InlineData("/body-write-without-flush")]
    [InlineData("/body-writer")]
    [InlineData("/results-stream")]
    [InlineData("/json-async-enumerable")]
    [InlineData("/server-sent-events")]
    public async Task First_part_arrives_before_the_app_writes_the_second(string path)
    {
        var answer = await _api.Enqueue(TestEvents.FunctionUrl(path: path)).Answer.Within();
        var prelude = await answer.ReadPreludeAsync().Within();
        Assert.True(200 == prelude.GetProperty("statusCode").GetInt32(), _logs.ToString());

        var soFar = await answer.ReadBodyUntilAsync("first").Within();
        Assert.DoesNotContain("second", soFar, StringComparison.Ordinal);
        _firstPartRead.SetResult();

        var body = Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within());
        Assert.Contains("second", body, StringComparison.Ordinal);
        Assert.Empty(answer.Trailers);
    }

    [Fact]
    public async Task SendFileAsync_streams_what_it_reads()
    {
        // A named pipe as the file: its second part exists only after the test read the first.
        var fifo = Path.Combine(Path.GetTempPath(), "lsh-fifo-" + Guid.NewGuid().ToString("N"));
        using (var mkfifo = Process.Start("mkfifo", fifo))
        {
            await mkfifo.WaitForExitAsync().Within();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        try
        {
            var invocation = _api.Enqueue(TestEvents.FunctionUrl(path: "/send-file", query: "path=" + Uri.EscapeDataString(fifo)));

            // Opening a pipe for writing waits until the app opened it for reading.
            await using var writer = await Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1)).Within();
            await writer.WriteAsync("first\n"u8.ToArray());
            await writer.FlushAsync();
            var answer = await invocation.Answer.Within();

            await answer.ReadPreludeAsync().Within();
            var soFar = await answer.ReadBodyUntilAsync("first").Within();
            Assert.DoesNotContain("second", soFar, StringComparison.Ordinal);

            await writer.WriteAsync("second\n"u8.ToArray());
            await writer.DisposeAsync();
            Assert.Equal("first\nsecond\n", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within()));
        }
        finally
        {
            File.Delete(fifo);
        }
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/body-flush", async context =>
        {
            await context.Response.Body.WriteAsync("first;"u8.ToArray());
            await context.Response.Body.FlushAsync();
            await _firstPartRead.Task.Within();
            await context.Response.Body.WriteAsync("second;"u8.ToArray());
        });
        app.MapGet("/body-write-without-flush", async context =>
        {
            // As on Kestrel, every write goes out: no flush needed (StreamCopyOperation and the stream results never
            // flush; KestrelDifferentialTests runs those over slow streams, and a relay, on both servers).
            await context.Response.Body.WriteAsync("first;"u8.ToArray());
            await _firstPartRead.Task.Within();
            await context.Response.Body.WriteAsync("second;"u8.ToArray());
        });
        app.MapGet("/body-writer", async context =>
        {
            await context.Response.BodyWriter.WriteAsync("first;"u8.ToArray());
            await _firstPartRead.Task.Within();
            "second;"u8.CopyTo(context.Response.BodyWriter.GetSpan(7));
            context.Response.BodyWriter.Advance(7);
            await context.Response.BodyWriter.FlushAsync();
        });
        app.MapGet("/results-stream", () => Results.Stream(async stream =>
        {
            await stream.WriteAsync("first;"u8.ToArray());
            await stream.FlushAsync();
            await _firstPartRead.Task.Within();
            await stream.WriteAsync("second;"u8.ToArray());
        }, "text/plain"));
        app.MapGet("/json-async-enumerable", () => Parts());
        app.MapGet("/server-sent-events", () => TypedResults.ServerSentEvents(Parts()));
        app.MapGet("/send-file", (HttpContext context, string path) => context.Response.SendFileAsync(path));
    }

    private async IAsyncEnumerable<string> Parts([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        yield return "first";
        await _firstPartRead.Task.WaitAsync(cancellationToken).Within();
        yield return "second";
    }
}
