using System.Buffers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using LambdaStreamingHosting.RuntimeApi;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Tests.Support;

namespace LambdaStreamingHosting.Tests.RuntimeApi;

/// <summary>
/// The send queue of a streamed <c>/response</c> over a real loopback socket whose Runtime API end reads the raw
/// HTTP/1.1 bytes, and reads nothing until the test says so (which is how a send is kept in flight).
/// </summary>
public sealed class SendQueueTests : IDisposable
{
    // Far more than the loopback socket buffers hold: a send of it stays in flight while the peer reads nothing.
    private const int Large = 32 * 1024 * 1024;
    private readonly RuntimeApiPeer _peer = new();

    public void Dispose() => _peer.Dispose();

    [Fact]
    public async Task Each_commit_of_an_idle_queue_goes_out_at_once_as_one_chunk_after_the_head_and_prelude()
    {
        await using var wire = _peer.NewClient();
        var state = new ResponseState();
        var request = await wire.BeginStreamingResponseAsync(state: state);
        var queue = request.Body;
        var prelude = Encoding.ASCII.GetBytes("{\"statusCode\":200}\0\0\0\0\0\0\0\0");
        queue.SetPrelude(prelude);
        Assert.False(state.AnythingSent);

        queue.Write("hello"u8);
        Assert.Equal(5, queue.UnflushedBytes);
        await queue.FlushAsync().AsTask().Within();
        Assert.True(state.AnythingSent);
        Assert.Equal(0, queue.UnflushedBytes);
        Assert.Equal(5, queue.CommittedBytes);

        var peer = await wire.FirstConnection.Within();
        Assert.StartsWith("POST /2018-06-01/runtime/invocation/request-1/response HTTP/1.1\r\n", peer.Head, StringComparison.Ordinal);
        var preludeChunk = $"1A\r\n{Encoding.ASCII.GetString(prelude)}\r\n";
        Assert.Equal(preludeChunk + "5\r\nhello\r\n", Encoding.ASCII.GetString(await peer.ReadExactlyAsync(preludeChunk.Length + 10)));

        queue.Write("world!"u8);
        await queue.FlushAsync().AsTask().Within();
        Assert.Equal("6\r\nworld!\r\n", Encoding.ASCII.GetString(await peer.ReadExactlyAsync(11)));

        await queue.EndAsync().AsTask().Within();
        Assert.Equal("0\r\n\r\n", Encoding.ASCII.GetString(await peer.ReadExactlyAsync(5)));

        await peer.SendAsync(RuntimeApiPeer.Accepted);
        var reply = await wire.Client.ReadStreamingReplyAsync(request, CancellationToken.None).AsTask().Within();
        Assert.Equal(202, reply.StatusCode);
        Assert.True(request.IsReleased);
    }

    [Fact]
    public async Task Writes_committed_while_a_send_is_in_flight_leave_together_as_one_chunk_in_the_next_send()
    {
        await using var wire = _peer.NewClient();
        var request = await wire.BeginStreamingResponseAsync();
        var queue = request.Body;

        var large = new byte[Large];
        large.AsSpan().Fill((byte)'x');
        var inFlight = queue.SendAsync(new ArraySegment<byte>(large), end: false).AsTask();
        Assert.False(inFlight.IsCompleted); // the peer reads nothing: the socket cannot take it all

        // Without a cap, commits return at once and wait for the send in flight.
        foreach (var part in new[] { "a", "bc", "def" })
        {
            queue.Write(Encoding.ASCII.GetBytes(part));
            Assert.True(CompletedAtOnce(queue.FlushAsync()));
        }

        Assert.True(CompletedAtOnce(queue.EndAsync()));
        Assert.False(inFlight.IsCompleted);

        var peer = await wire.FirstConnection.Within();
        var body = await peer.ReadUntilAsync("0\r\n\r\n"u8.ToArray());
        await inFlight.Within();
        await queue.DrainAsync().AsTask().Within();

        var chunks = RuntimeApiPeer.Chunks(body, out var end);
        Assert.Equal(body.Length, end + 2); // the last chunk's empty trailer line, and nothing after it
        Assert.Equal(2, chunks.Count);
        Assert.True(chunks[0].AsSpan().SequenceEqual(large));
        Assert.Equal("abcdef", Encoding.ASCII.GetString(chunks[1])); // the three commits, one chunk
        Assert.EndsWith("\r\n6\r\nabcdef\r\n0\r\n\r\n", Encoding.ASCII.GetString(body, body.Length - 100, 100), StringComparison.Ordinal);
        await wire.Client.AbandonAsync(request);
    }

    [Fact]
    public async Task A_commit_over_the_cap_waits_until_the_peer_read_enough_then_the_writer_goes_on()
    {
        await using var wire = _peer.NewClient();
        var request = await wire.BeginStreamingResponseAsync(maxUnsentBytes: 64 * 1024);
        var queue = request.Body;

        var large = new byte[Large];
        Random.Shared.NextBytes(large);
        queue.Write(large);
        var flush = queue.FlushAsync().AsTask();
        Assert.False(flush.IsCompleted); // 32 MiB unsent, cap 64 KiB: the writer waits

        var peer = await wire.FirstConnection.Within();
        var header = $"{Large:X}\r\n";
        var chunk = await peer.ReadExactlyAsync(header.Length + Large + 2);
        await flush.Within(); // the peer read it all: the writer goes on
        Assert.Equal(header, Encoding.ASCII.GetString(chunk, 0, header.Length));
        Assert.True(chunk.AsSpan(header.Length, Large).SequenceEqual(large));
        Assert.Equal("\r\n", Encoding.ASCII.GetString(chunk, header.Length + Large, 2));

        await queue.EndAsync().AsTask().Within();
        Assert.Equal("0\r\n\r\n", Encoding.ASCII.GetString(await peer.ReadExactlyAsync(5)));
        await queue.DrainAsync().AsTask().Within();
        await wire.Client.AbandonAsync(request);
    }

    [Fact]
    public async Task A_second_wait_while_a_writer_waits_is_refused_and_the_first_writer_still_goes_on()
    {
        await using var wire = _peer.NewClient();
        var request = await wire.BeginStreamingResponseAsync(maxUnsentBytes: 64 * 1024);
        var queue = request.Body;

        queue.Write(new byte[Large]);
        var flush = queue.FlushAsync().AsTask();
        Assert.False(flush.IsCompleted); // the writer waits on the cap

        // A drain while the writer waits would take its place and strand it: it is refused instead.
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => queue.DrainAsync().AsTask());
        Assert.Contains("must not overlap", error.Message);

        var peer = await wire.FirstConnection.Within();
        await peer.ReadExactlyAsync($"{Large:X}\r\n".Length + Large + 2);
        await flush.Within(); // the first writer was not stranded

        await queue.EndAsync().AsTask().Within();
        Assert.Equal("0\r\n\r\n", Encoding.ASCII.GetString(await peer.ReadExactlyAsync(5)));
        await queue.DrainAsync().AsTask().Within();
        await wire.Client.AbandonAsync(request);
    }

    [Fact]
    public async Task An_error_end_sends_the_unflushed_bytes_then_the_last_chunk_with_both_error_trailers()
    {
        await using var wire = _peer.NewClient();
        var request = await wire.BeginStreamingResponseAsync();
        var queue = request.Body;
        queue.Write("partial"u8);
        await queue.FlushAsync().AsTask().Within();
        queue.Write("tail"u8); // not flushed: it goes before the trailers

        await request.EndWithErrorAsync(new LambdaError("Bad\r\nInjected: yes", "it broke")).AsTask().Within();

        var peer = await wire.FirstConnection.Within();
        var text = Encoding.ASCII.GetString(await peer.ReadUntilAsync("\r\n\r\n"u8.ToArray()));
        var lines = text.Split("\r\n");
        Assert.Equal(["7", "partial", "4", "tail", "0"], lines[..5]);
        Assert.Equal("Lambda-Runtime-Function-Error-Type: Bad__Injected: yes", lines[5]); // CR and LF cannot split the trailer
        Assert.StartsWith("Lambda-Runtime-Function-Error-Body: ", lines[6], StringComparison.Ordinal);
        Assert.Equal(["", ""], lines[7..]);

        using var error = JsonDocument.Parse(Convert.FromBase64String(lines[6]["Lambda-Runtime-Function-Error-Body: ".Length..]));
        Assert.Equal("Bad\r\nInjected: yes", error.RootElement.GetProperty("errorType").GetString());
        Assert.Equal("it broke", error.RootElement.GetProperty("errorMessage").GetString());

        await peer.SendAsync(RuntimeApiPeer.Accepted);
        Assert.Equal(202, (await wire.Client.ReadStreamingReplyAsync(request, CancellationToken.None).AsTask().Within()).StatusCode);
    }

    [Fact]
    public async Task An_end_with_nothing_written_is_the_head_and_the_last_chunk_and_later_commits_send_nothing()
    {
        await using var wire = _peer.NewClient();
        var state = new ResponseState();
        var request = await wire.BeginStreamingResponseAsync(state: state);
        var queue = request.Body;
        await queue.EndAsync().AsTask().Within();
        Assert.True(state.AnythingSent);

        queue.Write("late"u8);
        Assert.True(CompletedAtOnce(queue.FlushAsync()));
        Assert.True(CompletedAtOnce(queue.EndAsync()));

        var peer = await wire.FirstConnection.Within();
        Assert.Equal("0\r\n\r\n", Encoding.ASCII.GetString(await peer.ReadExactlyAsync(5)));
        await peer.SendAsync(RuntimeApiPeer.Accepted);
        Assert.Equal(202, (await wire.Client.ReadStreamingReplyAsync(request, CancellationToken.None).AsTask().Within()).StatusCode);

        // The connection is reused: the next bytes on it are the next request, not the late write.
        var next = wire.Client.PostResponseAsync("request-2", null, "{}"u8.ToArray(), CancellationToken.None).AsTask();
        var nextHead = await peer.ReadHeadAsync();
        Assert.StartsWith("POST /2018-06-01/runtime/invocation/request-2/response HTTP/1.1\r\n", nextHead, StringComparison.Ordinal);
        await peer.ReadBodyAndAcknowledgeAsync(nextHead, next);
    }

    [Fact]
    public async Task A_peer_that_stops_reading_and_resets_breaks_the_response_once_and_releases_the_waiting_writer()
    {
        await using var wire = _peer.NewClient();
        var state = new ResponseState();
        var failures = new List<Exception>();
        var broken = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnBroken(Exception ex)
        {
            lock (failures)
            {
                failures.Add(ex);
            }

            broken.TrySetResult(ex);
        }

        var request = await wire.BeginStreamingResponseAsync(state: state, maxUnsentBytes: 64 * 1024, broken: OnBroken);
        var queue = request.Body;

        queue.Write(new byte[Large]);
        var flush = queue.FlushAsync().AsTask();
        Assert.False(flush.IsCompleted);

        using (var peer = await wire.FirstConnection.Within())
        {
            peer.Socket.LingerState = new LingerOption(true, 0); // close with a reset, the body unread
        }

        var failure = await broken.Task.Within();
        Assert.True(failure is SocketException or IOException, failure.ToString());
        await flush.Within(); // released, without an exception: the owner hears of the break, not the writer
        Assert.True(state.IsBroken);
        Assert.True(state.AnythingSent);

        // Once broken, commits and the end return at once and send nothing.
        queue.Write("more"u8);
        Assert.True(CompletedAtOnce(queue.FlushAsync()));
        Assert.True(CompletedAtOnce(queue.EndAsync()));
        Assert.True(CompletedAtOnce(queue.DrainAsync()));
        Assert.Single(failures);

        // No reply came before the reset; the dead connection is not reused.
        Assert.Null(await wire.Client.ReadEarlyStreamingReplyAsync(request, CancellationToken.None).Within());
        Assert.True(request.IsReleased);
        await wire.PostOnANewConnectionAsync("request-2");
    }

    /// <summary>Whether <paramref name="task"/> completed successfully when it was returned (it is consumed here).</summary>
    private static bool CompletedAtOnce(ValueTask task)
    {
        if (!task.IsCompletedSuccessfully)
        {
            return false; // the test fails; never block on it
        }

        task.GetAwaiter().GetResult();
        return true;
    }
}
