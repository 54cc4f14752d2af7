using BenchmarkDotNet.Attributes;
using LambdaStreamingHosting.Events;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>Event parsing (source-generated JSON) and mapping to the request the server hands to ASP.NET Core.</summary>
public class EventBenchmarks
{
    private readonly LambdaStreamingOptions _options = new();

    [Benchmark(Description = "Parse Function URL event")]
    public object ParseFunctionUrl() => EventParser.Parse(SampleEvents.FunctionUrl);

    [Benchmark(Description = "Parse + map Function URL event")]
    public object MapFunctionUrl() => EventMapper.Map(SampleEvents.FunctionUrl, _options);

    [Benchmark(Description = "Parse + map REST API event")]
    public object MapRestApi() => EventMapper.Map(SampleEvents.RestApi, _options);
}
