using BenchmarkDotNet.Attributes;
using LambdaStreamingHosting.Events;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// Event parsing (one <c>Utf8JsonReader</c> pass that finds the fields) and mapping to the request the server hands to
/// ASP.NET Core (only the values the request needs become strings): into a new request, and into a reused one as an
/// invocation loop does (what remains is the per-request strings and objects).
/// </summary>
public class EventBenchmarks
{
    private readonly LambdaStreamingOptions _options = new();
    private readonly LambdaHttpRequest _reused = new();
    private readonly LambdaHttpRequest _mapped = EventMapper.Map(SampleEvents.FunctionUrl, new LambdaStreamingOptions());

    [Benchmark(Description = "Parse Function URL event")]
    public int ParseFunctionUrl() => EventParser.Parse(SampleEvents.FunctionUrl).Headers.Count;

    [Benchmark(Description = "Parse + map Function URL event")]
    public object MapFunctionUrl() => EventMapper.Map(SampleEvents.FunctionUrl, _options);

    [Benchmark(Description = "Parse + map REST API event")]
    public object MapRestApi() => EventMapper.Map(SampleEvents.RestApi, _options);

    [Benchmark(Description = "Parse + map Function URL event into a reused request")]
    public object MapFunctionUrlReused() => EventMapper.Map(SampleEvents.FunctionUrl, _options, _reused);

    [Benchmark(Description = "Parse + map REST API event into a reused request")]
    public object MapRestApiReused() => EventMapper.Map(SampleEvents.RestApi, _options, _reused);

    [Benchmark(Description = "Request limits: check a mapped Function URL request")]
    public bool CheckLimits() => Server.RequestLimits.Check(_mapped, _options.Limits).IsRefused;
}
