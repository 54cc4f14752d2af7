using System.Buffers;
using BenchmarkDotNet.Attributes;
using LambdaStreamingHosting.Events;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>The streaming prelude of a typical response: status, four headers and two cookies, as JSON.</summary>
public class PreludeBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(1024);
    private readonly HeaderDictionary _headers = new()
    {
        ["Content-Type"] = "text/event-stream",
        ["Cache-Control"] = "no-cache",
        ["X-Request-Id"] = "8a4c7f6e-1d2b-4c3a-9e8f-7a6b5c4d3e2f",
        ["Vary"] = "Accept-Encoding",
        ["Set-Cookie"] = new(["visits=3; path=/; httponly; samesite=lax", "last-visit=1764201600; path=/; httponly; samesite=lax"]),
    };

    [Benchmark(Description = "Write prelude (payload 2.0)")]
    public int WritePayloadV2() => Write(ResponseShape.PayloadV2);

    [Benchmark(Description = "Write prelude (REST multi-value)")]
    public int WriteRestApi() => Write(ResponseShape.RestApi);

    private int Write(ResponseShape shape)
    {
        _output.ResetWrittenCount();
        PreludeWriter.Write(_output, shape, StatusCodes.Status200OK, _headers);
        return _output.WrittenCount;
    }
}
