using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.RuntimeApi;
using LambdaStreamingHosting.Server;
using Microsoft.Extensions.Logging.Abstractions;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// What <c>ServerSentEventsKeepAliveInterval</c> costs a busy stream: the same 64-byte event written (and sent at once
/// as an HTTP chunk on a real loopback socket to a reader that drops the bytes) with the option off, on for a
/// <c>text/event-stream</c> answer (the send queue then keeps the last bytes and the commit's time), and on for a
/// <c>text/plain</c> answer (never watched). The writes come faster than the interval, so no comment is ever sent: the
/// difference between the rows is the bookkeeping alone. Target: no allocation per write either way.
/// </summary>
public class SseKeepAliveBenchmarks
{
    private readonly byte[] _event = "data: {\"token\":\"streaming\",\"index\":12345,\"more\":true,\"x\":\"12\"}\n\n"u8.ToArray();
    private DiscardServer _sink = null!;
    private RuntimeApiClient _client = null!;
    private StreamingResponseRequest _request = null!;
    private StreamingResponseBodyFeature _body = null!;
    private Stream _stream = null!;
    private PipeWriter _writer = null!;

    [Params("off", "on, SSE answer", "on, text/plain")]
    public string KeepAlive { get; set; } = "off";

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _sink = new DiscardServer();
        _client = new RuntimeApiClient(RuntimeApiEndpoint.Parse(_sink.Endpoint));
        var response = new ResponseFeature();
        _request = await _client.BeginStreamingResponseAsync("benchmark-request", null, response.State, CancellationToken.None);
        var options = new LambdaStreamingOptions
        {
            ServerSentEventsKeepAliveInterval = KeepAlive == "off" ? TimeSpan.Zero : TimeSpan.FromSeconds(15),
        };
        _body = new StreamingResponseBodyFeature(response, _client, options, NullLogger.Instance).Start(_request, ResponseShape.PayloadV2, "GET");
        response.Headers.ContentType = KeepAlive == "on, text/plain" ? "text/plain" : "text/event-stream";
        _stream = _body.Stream;
        _writer = _body.Writer;
        await _body.StartAsync();
        await _writer.FlushAsync(); // the request head and the prelude go out here, once
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _request.Body.DrainAsync(); // no send in flight any more
        _body.Release();
        _body.Dispose();
        await _client.AbandonAsync(_request); // the stream never ends: drop its connection
        await _client.DisposeAsync();
        await _sink.DisposeAsync();
    }

    [Benchmark(Description = "SSE event: Response.Body 64 B write (sent at once)")]
    public ValueTask EventWrite() => _stream.WriteAsync(_event);

    [Benchmark(Description = "SSE event: BodyWriter 64 B GetSpan/Advance + FlushAsync")]
    public ValueTask<FlushResult> EventPipeWrite()
    {
        _event.CopyTo(_writer.GetSpan(_event.Length));
        _writer.Advance(_event.Length);
        return _writer.FlushAsync();
    }
}

/// <summary>
/// The keep-alive bookkeeping a write of a watched <c>text/event-stream</c> answer adds, alone (no socket, so the figure
/// is not lost in a send's noise): the last bytes of a 64-byte event taken into account, and the commit's time read
/// from the system clock.
/// </summary>
public class SseKeepAliveBookkeepingBenchmarks
{
    private readonly byte[] _event = "data: {\"token\":\"streaming\",\"index\":12345,\"more\":true,\"x\":\"12\"}\n\n"u8.ToArray();
    private EventStreamTail _tail;

    [Benchmark(Description = "SSE keep-alive bookkeeping per write (last bytes + timestamp)")]
    public long Bookkeeping()
    {
        _tail.Append(_event);
        return TimeProvider.System.GetTimestamp() + (_tail.EndsEvent ? 1 : 0);
    }
}
