namespace LambdaStreamingHosting;

/// <summary>
/// Warm-up requests: requests the server runs through the app itself, before Lambda SnapStart takes its snapshot (and,
/// with <see cref="DuringInit"/>, during an init without SnapStart), so that the first real request after a restore
/// does not pay for loading and compiling the code it runs. Each runs through the whole request path (event mapping,
/// the server's features, the app's middleware and endpoint, the response writer) into an answer that goes nowhere:
/// nothing of it reaches the Runtime API, the <c>LambdaStreamingHosting</c> meter, ASP.NET Core's request metrics or a
/// trace exporter. Bound from <c>LambdaStreaming:WarmUp</c>.
/// </summary>
public sealed class LambdaWarmUpOptions
{
    /// <summary>
    /// The requests to run, in order, each <see cref="Iterations"/> times. Each runs in its own request scope (its own
    /// scoped services, as a real request), and <see cref="ILambdaInvocationFeature.IsWarmUp"/> is
    /// <see langword="true"/> so the app can tell it from a real one. From configuration:
    /// <c>LambdaStreaming:WarmUp:Requests:0:Path=/api/items</c>. Default: none, and the server then primes its own request
    /// path with one request that no endpoint is expected to match (<c>GET /_lambda-streaming/warm-up</c>), answered the
    /// ways the function can answer (streamed and buffered).
    /// </summary>
    public IList<LambdaWarmUpRequest> Requests { get; } = [];

    /// <summary>How many times each request runs (0 turns warm-up off, the server's own priming too). Default: 5.</summary>
    public int Iterations { get; set; } = 5;

    /// <summary>
    /// Whether the warm-up also runs during an init without SnapStart (on-demand, provisioned concurrency, Managed
    /// Instances), before the first event is requested. The first request then pays less, the init more; Lambda bills
    /// the init phase. Default: <see langword="false"/>. With SnapStart it always runs, before the snapshot.
    /// </summary>
    public bool DuringInit { get; set; }
}

/// <summary>One warm-up request (<see cref="LambdaWarmUpOptions.Requests"/>).</summary>
public sealed class LambdaWarmUpRequest
{
    /// <summary>The HTTP method. Default: <c>GET</c>.</summary>
    public string Method { get; set; } = "GET";

    /// <summary>The path, optionally with a query string (<c>/api/items?page=1</c>). Default: <c>/</c>.</summary>
    public string Path { get; set; } = "/";

    /// <summary>Request headers (for example <c>content-type</c> for a body, or an <c>authorization</c> the app requires).</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>A text body (sent as UTF-8), or <see langword="null"/> for none.</summary>
    public string? Body { get; set; }

    /// <inheritdoc />
    public override string ToString() => Method + " " + Path;
}
