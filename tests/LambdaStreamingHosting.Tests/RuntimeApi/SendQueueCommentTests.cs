using System.Text;
using LambdaStreamingHosting.RuntimeApi;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace LambdaStreamingHosting.Tests.RuntimeApi;

/// <summary>
/// A keep-alive comment and a send in flight, on a real loopback socket whose peer does not read until the test says
/// so: the comment goes right after the bytes in flight and before anything committed later, and it is refused while
/// committed bytes wait behind the send in flight (it would land before them).
/// </summary>
public sealed class SendQueueCommentTests : IDisposable
{
    private const string Event = "data: 0123456789abcdef0123456789abcdef0123456789abcdef01234567\n\n"; // 64 bytes
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);
    private readonly RuntimeApiPeer _peer = new();
    private readonly FakeTimeProvider _clock = new();

    public void Dispose() => _peer.Dispose();

    [Fact]
    public async Task A_comment_committed_while_a_send_is_in_flight_goes_right_after_it_and_before_later_bytes()
    {
        await using var wire = _peer.NewClient();
        var request = await wire.BeginStreamingResponseAsync("request");
        var queue = request.Body;
        queue.TrackEvents(_clock);

        // Far more than the loopback buffers hold while the peer reads nothing: the send stays in flight.
        var events = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(Event, 512 * 1024))); // 32 MiB
        var inFlight = queue.SendAsync(new ArraySegment<byte>(events), end: false).AsTask();
        Assert.False(inFlight.IsCompleted);

        _clock.Advance(Interval);
        var now = _clock.GetTimestamp();
        Assert.True(queue.TryCommitComment(SseKeepAlive.CommentChunk, now, now - Interval.Ticks, out var lastCommit));
        Assert.Equal(now, lastCommit);
        Assert.False(queue.TryCommitComment(SseKeepAlive.CommentChunk, now, now, out _)); // one at a time

        queue.Write("data: after\n\n"u8);
        var flushed = queue.FlushAsync().AsTask();
        var ended = queue.EndAsync().AsTask();

        var body = await ReadChunkedBodyAsync(await wire.FirstConnection.Within());
        await Task.WhenAll(inFlight, flushed, ended).Within();

        Assert.Equal(events.Length + 14 + 13, body.Length);
        Assert.True(body.AsSpan(0, events.Length).SequenceEqual(events));
        Assert.Equal(": keep-alive\n\ndata: after\n\n", Encoding.ASCII.GetString(body, events.Length, body.Length - events.Length));
        await wire.Client.AbandonAsync(request);
    }

    [Fact]
    public async Task No_comment_while_committed_bytes_wait_behind_the_send_in_flight()
    {
        await using var wire = _peer.NewClient();
        var request = await wire.BeginStreamingResponseAsync("request");
        var queue = request.Body;
        queue.TrackEvents(_clock);

        var events = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(Event, 512 * 1024)));
        var inFlight = queue.SendAsync(new ArraySegment<byte>(events), end: false).AsTask();
        Assert.False(inFlight.IsCompleted);
        queue.Write("data: waiting\n\n"u8);
        var flushed = queue.FlushAsync().AsTask(); // committed: it waits for the send in flight

        _clock.Advance(Interval);
        var now = _clock.GetTimestamp();
        Assert.False(queue.TryCommitComment(SseKeepAlive.CommentChunk, now, now, out _));

        var ended = queue.EndAsync().AsTask();
        var body = await ReadChunkedBodyAsync(await wire.FirstConnection.Within());
        await Task.WhenAll(inFlight, flushed, ended).Within();

        Assert.Equal("data: waiting\n\n", Encoding.ASCII.GetString(body, events.Length, body.Length - events.Length));
        await wire.Client.AbandonAsync(request);
    }

    /// <summary>Reads the chunked body after the request head up to its last chunk; returns the data of its chunks, joined.</summary>
    private static async Task<byte[]> ReadChunkedBodyAsync(PeerConnection peer)
    {
        var body = new MemoryStream();
        foreach (var chunk in RuntimeApiPeer.Chunks(await peer.ReadUntilAsync("0\r\n\r\n"u8.ToArray()), out _))
        {
            body.Write(chunk);
        }

        return body.ToArray();
    }
}
