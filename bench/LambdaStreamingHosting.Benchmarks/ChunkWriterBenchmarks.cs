using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// The streaming response body after the prelude went out: each operation is what an app's write (and flush) costs,
/// sent at once as an HTTP chunk on a real loopback socket to a reader that drops the bytes (or joining the send in
/// flight). Target: no allocation per write.
/// </summary>
public class ChunkWriterBenchmarks
{
    private readonly byte[] _small = new byte[64];
    private readonly byte[] _chunk = new byte[4096];
    private readonly byte[] _large = new byte[64 * 1024];
    private StreamedBodyRig _rig = null!;
    private Stream _stream = null!;
    private PipeWriter _writer = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        Random.Shared.NextBytes(_chunk);
        Random.Shared.NextBytes(_large);
        _rig = await StreamedBodyRig.StartAsync(new LambdaStreamingOptions());
        _stream = _rig.Stream;
        _writer = _rig.Writer;
    }

    [GlobalCleanup]
    public ValueTask CleanupAsync() => _rig.DisposeAsync();

    [Benchmark(Description = "Response.Body 64 B write (no flush: sent at once)")]
    public ValueTask SmallWrite() => _stream.WriteAsync(_small);

    [Benchmark(Description = "Response.Body 4 KiB write + flush")]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAndFlush()
    {
        await _stream.WriteAsync(_chunk);
        await _stream.FlushAsync();
    }

    [Benchmark(Description = "Response.Body 64 KiB write + flush")]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask LargeWriteAndFlush()
    {
        await _stream.WriteAsync(_large);
        await _stream.FlushAsync();
    }

    [Benchmark(Description = "BodyWriter 4 KiB GetSpan/Advance + FlushAsync")]
    public ValueTask<FlushResult> PipeWriteAndFlush()
    {
        _chunk.CopyTo(_writer.GetSpan(_chunk.Length));
        _writer.Advance(_chunk.Length);
        return _writer.FlushAsync();
    }
}
