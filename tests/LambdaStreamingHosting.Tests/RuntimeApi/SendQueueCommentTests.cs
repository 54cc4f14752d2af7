using System.Net;
using System.Net.Sockets;
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
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly FakeTimeProvider _clock = new();

    public SendQueueCommentTests() => _listener.Start();

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task A_comment_committed_while_a_send_is_in_flight_goes_right_after_it_and_before_later_bytes()
    {
        await using var client = new RuntimeApiClient(RuntimeApiEndpoint.Parse($"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}"));
        var accept = _listener.AcceptSocketAsync();
        var request = await client.BeginStreamingResponseAsync("request", null, new ResponseState(), maxUnsentBytes: null, broken: null, CancellationToken.None).AsTask().Within();
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

        using var peer = await accept.Within();
        var body = await ReadChunkedBodyAsync(peer);
        await Task.WhenAll(inFlight, flushed, ended).Within();

        Assert.Equal(events.Length + 14 + 13, body.Length);
        Assert.True(body.AsSpan(0, events.Length).SequenceEqual(events));
        Assert.Equal(": keep-alive\n\ndata: after\n\n", Encoding.ASCII.GetString(body, events.Length, body.Length - events.Length));
        await client.AbandonAsync(request);
    }

    [Fact]
    public async Task No_comment_while_committed_bytes_wait_behind_the_send_in_flight()
    {
        await using var client = new RuntimeApiClient(RuntimeApiEndpoint.Parse($"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}"));
        var accept = _listener.AcceptSocketAsync();
        var request = await client.BeginStreamingResponseAsync("request", null, new ResponseState(), maxUnsentBytes: null, broken: null, CancellationToken.None).AsTask().Within();
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
        using var peer = await accept.Within();
        var body = await ReadChunkedBodyAsync(peer);
        await Task.WhenAll(inFlight, flushed, ended).Within();

        Assert.Equal("data: waiting\n\n", Encoding.ASCII.GetString(body, events.Length, body.Length - events.Length));
        await client.AbandonAsync(request);
    }

    /// <summary>Reads the request head, then the chunked body up to its last chunk; returns the body's bytes.</summary>
    private static async Task<byte[]> ReadChunkedBodyAsync(Socket peer)
    {
        var received = new MemoryStream();
        var buffer = new byte[256 * 1024];
        while (!EndsWith(received, "0\r\n\r\n"u8))
        {
            var read = await peer.ReceiveAsync(buffer.AsMemory()).AsTask().Within();
            Assert.True(read > 0, "the connection closed before the last chunk");
            received.Write(buffer, 0, read);
        }

        var bytes = received.ToArray();
        var at = bytes.AsSpan().IndexOf("\r\n\r\n"u8) + 4; // past the request head
        var body = new MemoryStream();
        while (true)
        {
            var lineEnd = at + bytes.AsSpan(at).IndexOf("\r\n"u8);
            var size = Convert.ToInt32(Encoding.ASCII.GetString(bytes, at, lineEnd - at), 16);
            at = lineEnd + 2;
            if (size == 0)
            {
                return body.ToArray();
            }

            body.Write(bytes, at, size);
            at += size + 2;
        }
    }

    private static bool EndsWith(MemoryStream stream, ReadOnlySpan<byte> end) =>
        stream.Length >= end.Length && stream.GetBuffer().AsSpan((int)stream.Length - end.Length, end.Length).SequenceEqual(end);
}
