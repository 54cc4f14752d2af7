namespace LambdaStreamingHosting.Benchmarks;

/// <summary>The real event captures embedded in this assembly (copied from /work/shared/events).</summary>
internal static class SampleEvents
{
    /// <summary>A Function URL event (payload 2.0): a GET with a query string, a cookie and ten headers.</summary>
    public static byte[] FunctionUrl { get; } = Load("lambda_function_url_request.json");

    /// <summary>An API Gateway REST event (payload 1.0) with multi-value headers and query parameters.</summary>
    public static byte[] RestApi { get; } = Load("apigw_proxy_request.json");

    private static byte[] Load(string name)
    {
        using var stream = typeof(SampleEvents).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The embedded event {name} is missing.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
