using System.Net;
using System.Text.Json;
using static LambdaStreamingHosting.Testing.Tests.TestSupport;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>
/// The feed behind the runner's timeline page: its bounds (a slow page never holds the emulator), and its event stream
/// as an HTTP client reads it while the raw-socket runtime client streams an answer.
/// </summary>
public class TimelineFeedTests
{
    private const string TimelinePath = "/_lambda/";

    [Fact]
    public void A_subscriber_that_falls_behind_is_dropped_and_the_publisher_never_waits()
    {
        var feed = new InvocationFeed();
        using var slow = feed.Subscribe()!;

        // Nobody reads: the queue fills, then the subscriber is dropped instead of the publisher waiting.
        for (var i = 0; i < InvocationFeed.SubscriberBacklog + 10; i++)
        {
            feed.Publish(Arrived($"r{i}"));
        }

        Assert.True(slow.Overflowed);
        var received = 0;
        while (slow.Events.TryRead(out _))
        {
            received++;
        }

        Assert.Equal(InvocationFeed.SubscriberBacklog, received);
        Assert.True(slow.Events.Completion.IsCompleted);

        // A page that connects again starts from what the feed kept.
        using var again = feed.Subscribe()!;
        Assert.False(again.Overflowed);
        Assert.IsType<InvocationArrived>(again.Kept[0]);
    }

    [Fact]
    public void The_feed_keeps_the_last_invocations_and_a_bounded_number_of_chunk_events_each()
    {
        var feed = new InvocationFeed();
        for (var i = 0; i < InvocationFeed.KeptInvocations + 20; i++)
        {
            feed.Publish(Arrived($"r{i}"));
        }

        var last = $"r{InvocationFeed.KeptInvocations + 19}";
        for (var i = 0; i < InvocationFeed.MaxChunkEventsPerInvocation + 5; i++)
        {
            feed.Publish(new ChunkSent(last, TimeSpan.FromMilliseconds(i), 10, 200));
        }

        using var live = feed.Subscribe()!;
        feed.Publish(new ChunkSent(last, TimeSpan.FromSeconds(10), 10, 200)); // past the limit: not passed on either
        feed.Publish(new ChunkSent("r0", TimeSpan.FromSeconds(10), 10, 200)); // no longer kept, but still news

        var arrived = live.Kept.OfType<InvocationArrived>().Select(e => e.RequestId).ToList();
        Assert.Equal(InvocationFeed.KeptInvocations, arrived.Count);
        Assert.Equal("r20", arrived[0]);
        Assert.Equal(InvocationFeed.MaxChunkEventsPerInvocation, live.Kept.OfType<ChunkSent>().Count());
        Assert.True(live.Events.TryRead(out var news));
        Assert.Equal("r0", news.RequestId);
        Assert.False(live.Events.TryRead(out _));
    }

    [Fact]
    public void A_stopped_feed_ends_its_subscriptions_and_takes_no_more()
    {
        var feed = new InvocationFeed();
        using var subscription = feed.Subscribe()!;

        feed.Stop();

        Assert.True(subscription.Events.Completion.IsCompleted);
        Assert.False(subscription.Overflowed);
        Assert.Null(feed.Subscribe());
    }

    [Fact]
    public async Task The_event_stream_reports_each_chunk_when_it_reaches_the_client_and_the_end()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { TimelinePath = TimelinePath });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        using var events = await EventStream.OpenAsync(http);
        Assert.Equal("reset", (await events.NextAsync()).GetProperty("type").GetString());
        var firstChunkReported = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var function = Task.Run(async () =>
        {
            var invocation = await runtime.NextAsync();
            await using var answer = await runtime.BeginStreamAsync(invocation.RequestId);
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":201}"""));
            await answer.WriteChunkAsync("first|");
            await firstChunkReported.Task.WaitAsync(Patience); // the feed must report it while the function holds the rest
            await answer.WriteChunkAsync("second");
            return await answer.EndAsync();
        });

        // Sent raw: a client library would escape the markup that an attacker need not.
        var frontDoor = new RawRuntimeClient($"127.0.0.1:{emulator.FunctionUrl.Port}");
        var sent = frontDoor.SendRawAsync("GET /report?<script> HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        var arrived = await events.NextAsync();
        Assert.Equal("arrived", arrived.GetProperty("type").GetString());
        Assert.Equal("GET", arrived.GetProperty("method").GetString());
        Assert.Equal("/report?<script>", arrived.GetProperty("target").GetString());
        Assert.Contains("\\u003Cscript\\u003E", events.LastData, StringComparison.Ordinal); // never raw markup on the wire
        var delivered = await events.NextAsync();
        Assert.Equal("delivered", delivered.GetProperty("type").GetString());
        Assert.Equal("cold", delivered.GetProperty("start").GetString());
        var first = await events.NextAsync();
        Assert.Equal("chunk", first.GetProperty("type").GetString());
        Assert.Equal(6, first.GetProperty("bytes").GetInt64());
        Assert.Equal(201, first.GetProperty("status").GetInt32());
        firstChunkReported.SetResult();

        var response = await sent.WaitAsync(Patience);
        Assert.Equal(201, response.Status);
        Assert.Equal("first|second", response.Text);
        Assert.Equal(202, (await function.WaitAsync(Patience)).Status);
        var second = await events.NextAsync();
        Assert.Equal("chunk", second.GetProperty("type").GetString());
        Assert.Equal(6, second.GetProperty("bytes").GetInt64());
        Assert.True(second.GetProperty("at").GetDouble() >= first.GetProperty("at").GetDouble());
        var ended = await events.NextAsync();
        Assert.Equal("ended", ended.GetProperty("type").GetString());
        Assert.Equal(201, ended.GetProperty("status").GetInt32());
        Assert.Equal(12, ended.GetProperty("bytes").GetInt64());
        Assert.Equal(2, ended.GetProperty("chunks").GetInt32());
        Assert.Equal(JsonValueKind.Null, ended.GetProperty("errorType").ValueKind);

        // A page opened now gets the same invocation from the kept events.
        using var late = await EventStream.OpenAsync(http);
        Assert.Equal("reset", (await late.NextAsync()).GetProperty("type").GetString());
        Assert.Equal("arrived", (await late.NextAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_buffered_answer_reaches_the_client_as_one_chunk()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { TimelinePath = TimelinePath, InvokeMode = LambdaInvokeMode.Buffered });
        using var http = Client(emulator.FunctionUrl);
        using var events = await EventStream.OpenAsync(http);
        Assert.Equal("reset", (await events.NextAsync()).GetProperty("type").GetString());

        var (_, response) = await RoundTripAsync(emulator, emulator.FunctionUrl, new HttpRequestMessage(HttpMethod.Get, "/report"),
            Buffered("""{"statusCode":200,"body":"the whole report"}"""));
        using var _ = response;

        Assert.Equal("arrived", (await events.NextAsync()).GetProperty("type").GetString());
        Assert.Equal("delivered", (await events.NextAsync()).GetProperty("type").GetString());
        var chunk = await events.NextAsync();
        Assert.Equal("chunk", chunk.GetProperty("type").GetString());
        Assert.Equal(16, chunk.GetProperty("bytes").GetInt64());
        var ended = await events.NextAsync();
        Assert.Equal("ended", ended.GetProperty("type").GetString());
        Assert.Equal(1, ended.GetProperty("chunks").GetInt32());
        Assert.False(ended.GetProperty("streamed").GetBoolean());
    }

    [Fact]
    public async Task Stopping_the_emulator_ends_an_open_event_stream_cleanly()
    {
        var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { TimelinePath = TimelinePath });
        using var http = Client(emulator.FunctionUrl);
        using var events = await EventStream.OpenAsync(http);
        Assert.Equal("reset", (await events.NextAsync()).GetProperty("type").GetString());

        await emulator.DisposeAsync();

        // The stream ends with its last chunk (an end the page sees as "reconnecting"), not with its connection cut
        // when the server gives up waiting for it.
        await Assert.ThrowsAsync<EndOfStreamException>(events.NextAsync);
    }

    [Fact]
    public async Task The_page_is_served_on_its_path_with_a_strict_content_security_policy_and_the_function_never_sees_that_path()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { TimelinePath = TimelinePath });
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = emulator.FunctionUrl, Timeout = Patience };

        using var page = await http.GetAsync(TimelinePath);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html; charset=utf-8", page.Content.Headers.ContentType!.ToString());
        var policy = string.Join(" ", page.Headers.GetValues("Content-Security-Policy"));
        Assert.StartsWith("default-src 'none'; script-src 'sha256-", policy, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", policy, StringComparison.Ordinal);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("new EventSource(\"events\")", html, StringComparison.Ordinal);
        foreach (var fetch in new[] { " src=", " href=", "url(", "@import", "fetch(" })
        {
            Assert.DoesNotContain(fetch, html, StringComparison.Ordinal); // nothing fetched but the event stream
        }

        using var bare = await http.GetAsync("/_lambda");
        Assert.Equal(HttpStatusCode.PermanentRedirect, bare.StatusCode);
        Assert.Equal(TimelinePath, bare.Headers.Location!.ToString());
        using var unknown = await http.GetAsync("/_lambda/anything");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var post = await http.PostAsync(TimelinePath, new StringContent("x"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);

        Assert.Empty(emulator.Invocations); // none of these became an invocation
    }

    [Fact]
    public async Task Without_a_timeline_path_the_path_goes_to_the_function()
    {
        await using var emulator = await LambdaEmulator.StartAsync();

        var (invocationEvent, response) = await RoundTripAsync(emulator, emulator.FunctionUrl, new HttpRequestMessage(HttpMethod.Get, TimelinePath), Streamed("""{"statusCode":200}""", "app"));
        using var _ = response;

        Assert.Equal(TimelinePath, invocationEvent.GetProperty("rawPath").GetString());
        Assert.Equal("app", await response.Content.ReadAsStringAsync());
    }

    private static InvocationArrived Arrived(string requestId) =>
        new(requestId, LambdaFrontDoor.FunctionUrl, "GET", "/", DateTimeOffset.UnixEpoch);

    /// <summary>The timeline's server-sent events, read as a browser's EventSource would: one JSON object per "data:" line.</summary>
    private sealed class EventStream : IDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly StreamReader _reader;

        private EventStream(HttpResponseMessage response, StreamReader reader)
        {
            _response = response;
            _reader = reader;
        }

        public string LastData { get; private set; } = "";

        public static async Task<EventStream> OpenAsync(HttpClient http)
        {
            var response = await http.GetAsync(TimelinePath + "events", HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
            return new EventStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
        }

        public async Task<JsonElement> NextAsync()
        {
            while (true)
            {
                var line = await _reader.ReadLineAsync().WaitAsync(Patience) ?? throw new EndOfStreamException("The event stream ended.");
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    LastData = line["data: ".Length..];
                    return JsonDocument.Parse(LastData).RootElement.Clone();
                }
            }
        }

        public void Dispose()
        {
            _reader.Dispose();
            _response.Dispose();
        }
    }
}
