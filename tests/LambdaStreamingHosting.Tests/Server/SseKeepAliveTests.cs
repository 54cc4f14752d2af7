using System.Net;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// Keep-alive comments in the quiet gaps of a <c>text/event-stream</c> answer, seen by a real SSE client
/// (<see cref="SseParser"/> over <see cref="HttpClient"/>) through the emulator's streaming Function URL: the events
/// arrive as the app sent them, and the raw bytes the client read show where the comments went. The server and the
/// emulator keep time on one <see cref="FakeTimeProvider"/>: the test moves it to say when the stream is quiet; a timer
/// due fires while the clock is moved, so a comment that goes out is on its way before the app's next bytes.
/// </summary>
public sealed class SseKeepAliveTests : IAsyncLifetime
{
    private const string Comment = ": keep-alive\n\n";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Millisecond = TimeSpan.FromMilliseconds(1);
    private readonly FakeTimeProvider _clock = new();
    private Channel<string> _commands = Channel.CreateUnbounded<string>();
    private Channel<SseItem<string>> _items = Channel.CreateUnbounded<SseItem<string>>();
    private TaskCompletionSource _started = new();
    private TaskCompletionSource? _done;
    private LambdaEmulator? _emulator;
    private WebApplication? _app;
    private HttpClient? _client;

    public Task InitializeAsync() => StartAsync(Interval, LambdaInvokeMode.ResponseStream);

    public async Task DisposeAsync()
    {
        _commands.Writer.TryComplete();
        _items.Writer.TryComplete();
        _client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync().WaitAsync(Patience);
            await _app.DisposeAsync();
        }

        if (_emulator is not null)
        {
            await _emulator.DisposeAsync();
        }
    }

    [Fact]
    public async Task Comments_go_only_into_quiet_gaps_between_events_and_the_events_arrive_unchanged()
    {
        using var stream = await OpenAsync("/scripted", "text/event-stream", "data: one\n\n");
        var events = SseParser.Create(stream).EnumerateAsync().GetAsyncEnumerator(); // ends with the stream
        var received = new List<string> { await NextDataAsync(events) };

        // Quiet for just under the interval: no comment.
        _clock.Advance(Interval - Millisecond);
        await SendAsync("data: two\n\n");
        received.Add(await NextDataAsync(events));

        // The timer set for the first write finds a write since: it waits until the stream was quiet for an interval.
        _clock.Advance(Millisecond);
        _clock.Advance(Interval - Millisecond);
        var next = events.MoveNextAsync().AsTask(); // the client reads on: the comments are skipped, only recorded
        await stream.WaitForAsync(Comment, count: 1);
        _clock.Advance(Interval);
        await stream.WaitForAsync(Comment, count: 2);

        // Inside an event (the last bytes end no event): however long it is quiet, nothing is added.
        await SendAsync("data: thr");
        _clock.Advance(Interval);
        _clock.Advance(Interval);
        await SendAsync("ee\nid: 3\n\n");
        Assert.True(await next.WaitAsync(Patience));
        received.Add(events.Current.Data);
        Assert.Equal("3", events.Current.EventId);

        // Between events, but with bytes written and not flushed (BodyWriter GetMemory/Advance): nothing is added either.
        await SendAsync("unflushed:data: four\n\n");
        _clock.Advance(Interval);
        _clock.Advance(Interval);
        await SendAsync("flush");
        received.Add(await NextDataAsync(events));

        // CRLF line ends: a quiet gap after an event gets its comment.
        await SendAsync("data: five\r\n\r\n");
        received.Add(await NextDataAsync(events));
        _clock.Advance(Interval);
        next = events.MoveNextAsync().AsTask();
        await stream.WaitForAsync(Comment, count: 3);
        // A CR may still be followed by its LF: the client takes the event once the next byte (here the end) shows not.
        await SendAsync("data: six\r\r");
        await SendAsync("end");
        Assert.True(await next.WaitAsync(Patience));
        received.Add(events.Current.Data);
        Assert.False(await events.MoveNextAsync().AsTask().WaitAsync(Patience));

        Assert.Equal(["one", "two", "three", "four", "five", "six"], received);
        Assert.Equal(
            "data: one\n\ndata: two\n\n" + Comment + Comment + "data: three\nid: 3\n\ndata: four\n\ndata: five\r\n\r\n" + Comment + "data: six\r\r",
            stream.Text);
        Assert.Empty(_emulator!.ProtocolViolations);
    }

    [Fact]
    public async Task A_started_answer_that_is_quiet_from_the_start_gets_its_headers_with_the_first_comment()
    {
        _started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var responseTask = _client!.GetAsync("/scripted", HttpCompletionOption.ResponseHeadersRead);
        await _started.Task.WaitAsync(Patience); // StartAsync ran: committed, nothing sent yet (as on Kestrel)

        _clock.Advance(Interval);
        var response = await responseTask.WaitAsync(Patience);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var stream = new RecordingStream(response, await response.Content.ReadAsStreamAsync());
        await stream.ReadUntilAsync(Comment);

        await SendAsync("data: one\n\n");
        await SendAsync("end");
        await stream.ReadToEndAsync();
        Assert.Equal(Comment + "data: one\n\n", stream.Text);
    }

    [Fact]
    public async Task A_typed_results_event_stream_gets_comments_while_its_source_is_quiet()
    {
        var responseTask = _client!.GetAsync("/typed", HttpCompletionOption.ResponseHeadersRead);
        Assert.True(_items.Writer.TryWrite(new SseItem<string>("first", "token") { EventId = "1" })); // the headers go with it
        var response = await responseTask.WaitAsync(Patience);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var stream = new RecordingStream(response, await response.Content.ReadAsStreamAsync());
        var events = SseParser.Create(stream).EnumerateAsync().GetAsyncEnumerator(); // ends with the stream
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Patience));
        Assert.Equal(("token", "first", "1"), (events.Current.EventType, events.Current.Data, events.Current.EventId));

        var next = events.MoveNextAsync().AsTask();
        _clock.Advance(Interval);
        await stream.WaitForAsync(Comment, count: 1);
        _items.Writer.TryWrite(new SseItem<string>("second\nline", "token") { EventId = "2" });
        Assert.True(await next.WaitAsync(Patience));
        Assert.Equal(("token", "second\nline", "2"), (events.Current.EventType, events.Current.Data, events.Current.EventId));

        _items.Writer.Complete();
        Assert.False(await events.MoveNextAsync().AsTask().WaitAsync(Patience));
        // One comment, between the two events: after the first one's empty line, before the second one's first line.
        var text = stream.Text;
        Assert.Equal(1, Count(text, Comment));
        var at = text.IndexOf(Comment, StringComparison.Ordinal);
        Assert.EndsWith("id: 1\n\n", text[..at], StringComparison.Ordinal);
        Assert.StartsWith("event: token\n", text[(at + Comment.Length)..], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-ndjson")]
    [InlineData("text/event-stream-not")]
    public async Task Other_content_types_never_get_a_comment(string contentType)
    {
        using var stream = await OpenAsync("/scripted?type=" + Uri.EscapeDataString(contentType), contentType, "data: one\n\n");
        await stream.ReadUntilAsync("data: one\n\n");
        _clock.Advance(Interval);
        _clock.Advance(Interval);
        await SendAsync("data: two\n\n");
        await SendAsync("end");
        await stream.ReadToEndAsync();

        Assert.Equal("data: one\n\ndata: two\n\n", stream.Text);
    }

    [Fact]
    public async Task Nothing_is_sent_before_the_response_started_nor_after_it_ended()
    {
        // The app set the content type but has not started the response: its headers may still change, nothing is sent.
        using (var stream = await OpenAsync("/scripted?late", "text/event-stream", "data: one\n\n", beforeFirst: () =>
               {
                   _clock.Advance(Interval);
                   _clock.Advance(Interval);
               }))
        {
            await stream.ReadUntilAsync("data: one\n\n");
            await SendAsync("end");
            await stream.ReadToEndAsync();
            Assert.Equal("data: one\n\n", stream.Text);
        }

        // The same invocation loop's next answer: the previous one's timer is stopped and does not reach into it.
        _clock.Advance(Interval);
        using var plain = await OpenAsync("/scripted?type=text/plain", "text/plain", "data: two\n\n");
        await plain.ReadUntilAsync("data: two\n\n");
        _clock.Advance(Interval);
        _clock.Advance(Interval);
        await SendAsync("end");
        await plain.ReadToEndAsync();
        Assert.Equal("data: two\n\n", plain.Text);
    }

    [Fact]
    public async Task With_the_option_off_a_quiet_event_stream_gets_no_comment()
    {
        await DisposeAsync();
        await StartAsync(TimeSpan.Zero, LambdaInvokeMode.ResponseStream);
        using var stream = await OpenAsync("/scripted", "text/event-stream", "data: one\n\n");
        await stream.ReadUntilAsync("data: one\n\n");
        _clock.Advance(Interval);
        _clock.Advance(Interval);
        await SendAsync("data: two\n\n");
        await SendAsync("end");
        await stream.ReadToEndAsync();

        Assert.Equal("data: one\n\ndata: two\n\n", stream.Text);
    }

    [Fact]
    public async Task A_buffered_answer_never_gets_a_comment()
    {
        await DisposeAsync();
        await StartAsync(Interval, LambdaInvokeMode.Buffered);
        _started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var response = _client!.GetAsync("/scripted", HttpCompletionOption.ResponseContentRead);
        await _started.Task.WaitAsync(Patience);

        await SendAsync("data: one\n\n");
        _clock.Advance(Interval);
        _clock.Advance(Interval);
        await SendAsync("data: two\n\n");
        await SendAsync("end");
        using var answer = await response.WaitAsync(Patience);

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("data: one\n\ndata: two\n\n", await answer.Content.ReadAsStringAsync());
    }

    private static int Count(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static async Task<string> NextDataAsync(IAsyncEnumerator<SseItem<string>> events)
    {
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Patience), "the stream ended early");
        return events.Current.Data;
    }

    private async Task StartAsync(TimeSpan interval, LambdaInvokeMode mode)
    {
        _commands = Channel.CreateUnbounded<string>();
        _items = Channel.CreateUnbounded<SseItem<string>>();
        // The invocation's timeout is on the test's clock too: long enough for every quiet gap the tests make.
        _emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { TimeProvider = _clock, Timeout = TimeSpan.FromMinutes(15), InvokeMode = mode }).WaitAsync(Patience);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddLambdaStreaming(options =>
        {
            options.ServerSentEventsKeepAliveInterval = interval;
            options.InvokeMode = mode;
        });
        builder.Services.AddLambdaServer(_emulator.RuntimeApiEndpoint, _clock);
        _app = builder.Build();
        Map(_app);
        await _app.StartAsync().WaitAsync(Patience);
        _client = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = _emulator.FunctionUrl, Timeout = Patience };
    }

    /// <summary>
    /// Requests <paramref name="path"/> of the scripted app; once its handler runs, <paramref name="beforeFirst"/>, then
    /// the app writes <paramref name="first"/> (the headers come with the first bytes, as on Kestrel).
    /// </summary>
    private async Task<RecordingStream> OpenAsync(string path, string contentType, string first, Action? beforeFirst = null)
    {
        _started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var responseTask = _client!.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
        await _started.Task.WaitAsync(Patience);
        beforeFirst?.Invoke();
        var done = PostAsync(first);
        var response = await responseTask.WaitAsync(Patience);
        await done;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType?.MediaType);
        return new RecordingStream(response, await response.Content.ReadAsStreamAsync());
    }

    /// <summary>Hands the app its next command and waits until it was carried out (its bytes handed to the server).</summary>
    private Task SendAsync(string command) => PostAsync(command);

    private Task PostAsync(string command)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _done = done;
        Assert.True(_commands.Writer.TryWrite(command));
        return done.Task.WaitAsync(Patience);
    }

    private void Map(WebApplication app)
    {
        // Writes what the test says: text is written and flushed; "unflushed:" text goes through BodyWriter without a
        // flush; "flush" flushes; "end" returns. With "?late" the response starts with the first write (not before).
        app.MapGet("/scripted", async context =>
        {
            context.Response.ContentType = context.Request.Query["type"].FirstOrDefault() ?? "text/event-stream";
            if (!context.Request.Query.ContainsKey("late"))
            {
                await context.Response.StartAsync();
            }

            _started.TrySetResult();

            await foreach (var command in _commands.Reader.ReadAllAsync(context.RequestAborted))
            {
                if (command == "end")
                {
                    _done?.TrySetResult();
                    return;
                }

                if (command == "flush")
                {
                    await context.Response.BodyWriter.FlushAsync();
                }
                else if (command.StartsWith("unflushed:", StringComparison.Ordinal))
                {
                    var bytes = Encoding.UTF8.GetBytes(command["unflushed:".Length..]);
                    bytes.CopyTo(context.Response.BodyWriter.GetSpan(bytes.Length));
                    context.Response.BodyWriter.Advance(bytes.Length);
                }
                else
                {
                    await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(command));
                }

                _done?.TrySetResult();
            }
        });
        app.MapGet("/typed", () => TypedResults.ServerSentEvents(Items()));
    }

    private async IAsyncEnumerable<SseItem<string>> Items([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var item in _items.Reader.ReadAllAsync(cancellationToken))
        {
            yield return item;
        }
    }

    /// <summary>The response body as the client reads it, every byte recorded; a test can wait until some text arrived.</summary>
    private sealed class RecordingStream(HttpResponseMessage response, Stream inner) : Stream
    {
        private readonly StringBuilder _text = new();
        private readonly List<(string Part, int Count, TaskCompletionSource Arrived)> _waits = [];

        public string Text
        {
            get
            {
                lock (_text)
                {
                    return _text.ToString();
                }
            }
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        /// <summary>Completes once <paramref name="part"/> arrived <paramref name="count"/> times; the client must be reading.</summary>
        public async Task WaitForAsync(string part, int count)
        {
            var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_text)
            {
                _waits.Add((part, count, arrived));
                Check();
            }

            try
            {
                await arrived.Task.WaitAsync(Patience);
            }
            catch (TimeoutException)
            {
                Assert.Fail($"'{part}' did not arrive {count} times; the client read: {Text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}");
            }
        }

        /// <summary>Reads until <paramref name="part"/> arrived (for a test that has no SSE client reading).</summary>
        public async Task ReadUntilAsync(string part)
        {
            var buffer = new byte[256];
            while (!Text.Contains(part, StringComparison.Ordinal))
            {
                Assert.True(await ReadAsync(buffer).AsTask().WaitAsync(Patience) > 0, $"the body ended before '{part}' arrived: {Text}");
            }
        }

        /// <summary>Reads what is left of the body (for a test that has no SSE client reading).</summary>
        public Task ReadToEndAsync() => CopyToAsync(Null).WaitAsync(Patience);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            lock (_text)
            {
                _text.Append(Encoding.UTF8.GetString(buffer.Span[..read]));
                Check();
            }

            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
            }

            base.Dispose(disposing);
        }

        private void Check()
        {
            var text = _text.ToString();
            foreach (var (part, count, arrived) in _waits)
            {
                if (Count(text, part) >= count)
                {
                    arrived.TrySetResult();
                }
            }
        }
    }
}
