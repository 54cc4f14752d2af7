using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using LambdaStreamingHosting.RuntimeApi;

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
    private StreamedBodyRig _rig = null!;
    private Stream _stream = null!;
    private PipeWriter _writer = null!;

    [Params("off", "on, SSE answer", "on, text/plain")]
    public string KeepAlive { get; set; } = "off";

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var options = new LambdaStreamingOptions
        {
            ServerSentEventsKeepAliveInterval = KeepAlive == "off" ? TimeSpan.Zero : TimeSpan.FromSeconds(15),
        };
        _rig = await StreamedBodyRig.StartAsync(options, KeepAlive == "on, text/plain" ? "text/plain" : "text/event-stream");
        _stream = _rig.Stream;
        _writer = _rig.Writer;
    }

    [GlobalCleanup]
    public ValueTask CleanupAsync() => _rig.DisposeAsync();

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
