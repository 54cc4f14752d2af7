using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// What Kestrel itself does, proven on a real Kestrel: the Lambda server claims to match these rules (see
/// <see cref="ResponseSendsTests"/>). A connection middleware records every flush Kestrel makes to its transport, so
/// "nothing was sent" is observed when the app resumes, not guessed from a timeout.
/// </summary>
public sealed class KestrelReferenceTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<string> _flushes = new();
    private readonly TaskCompletionSource<string> _observed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _app;
    private HttpClient? _client;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Use(next => async connection =>
        {
            connection.Transport = new RecordingPipe(connection.Transport, _flushes);
            await next(connection);
        })));
        _app = builder.Build();
        _app.MapGet("/start-then-write", async context =>
        {
            await context.Response.StartAsync();
            var afterStart = _flushes.Count;
            await context.Response.WriteAsync("hello");
            _observed.SetResult($"{afterStart} {_flushes.Count}");
        });
        _app.MapGet("/too-many", async context =>
        {
            context.Response.ContentLength = 3;
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.Response.WriteAsync("abcd"));
            _observed.SetResult(error.Message);
            await context.Response.WriteAsync("abc");
        });
        _app.MapGet("/too-few", async context =>
        {
            context.Response.ContentLength = 10;
            await context.Response.WriteAsync("short");
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.Response.CompleteAsync());
            _observed.SetResult(error.Message);
        });
        await _app.StartAsync().WaitAsync(TestApp.Timeout);
        var address = _app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        _client = new HttpClient { BaseAddress = new Uri(address) };
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    [Fact]
    public async Task Kestrel_StartAsync_sends_nothing_the_headers_go_with_the_first_flushed_body_bytes()
    {
        Assert.Equal("hello", await _client!.GetStringAsync(new Uri("/start-then-write", UriKind.Relative)).Within());

        Assert.Equal("0 1", await _observed.Task.Within());
        var first = _flushes.First();
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", first, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n5\r\nhello\r\n", first, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kestrel_refuses_more_bytes_than_Content_Length_with_this_message()
    {
        Assert.Equal("abc", await _client!.GetStringAsync(new Uri("/too-many", UriKind.Relative)).Within());

        Assert.Equal("Response Content-Length mismatch: too many bytes written (4 of 3).", await _observed.Task.Within());
    }

    [Fact]
    public async Task Kestrel_refuses_to_complete_a_body_shorter_than_Content_Length_and_cuts_the_response()
    {
        await Assert.ThrowsAsync<HttpRequestException>(() => _client!.GetStringAsync(new Uri("/too-few", UriKind.Relative)).Within());

        Assert.Equal("Response Content-Length mismatch: too few bytes written (5 of 10).", await _observed.Task.Within());
    }

    /// <summary>The connection's transport, with every flush of the output recorded as text.</summary>
    private sealed class RecordingPipe(IDuplexPipe inner, ConcurrentQueue<string> flushes) : IDuplexPipe
    {
        public PipeReader Input => inner.Input;

        public PipeWriter Output { get; } = new RecordingWriter(inner.Output, flushes);
    }

    private sealed class RecordingWriter(PipeWriter inner, ConcurrentQueue<string> flushes) : PipeWriter
    {
        private readonly MemoryStream _unflushed = new();
        private Memory<byte> _lent;

        public override void Advance(int bytes)
        {
            _unflushed.Write(_lent.Span[..bytes]);
            inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => _lent = inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            if (_unflushed.Length > 0)
            {
                flushes.Enqueue(Encoding.ASCII.GetString(_unflushed.ToArray()));
                _unflushed.SetLength(0);
            }

            return inner.FlushAsync(cancellationToken);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }
}
