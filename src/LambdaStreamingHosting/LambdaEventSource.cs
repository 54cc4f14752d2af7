namespace LambdaStreamingHosting;

/// <summary>The HTTP front end whose events the function receives.</summary>
public enum LambdaEventSource
{
    /// <summary>Detect the source of each invocation from the shape of its event. The default.</summary>
    Auto = 0,

    /// <summary>A Lambda Function URL (payload format 2.0, <c>routeKey</c> <c>$default</c>).</summary>
    FunctionUrl = 1,

    /// <summary>An API Gateway HTTP API (payload format 2.0). HTTP APIs never stream.</summary>
    HttpApi = 2,

    /// <summary>An API Gateway REST API (payload format 1.0), buffered or with <c>responseTransferMode: STREAM</c>.</summary>
    RestApi = 3,

    /// <summary>An Application Load Balancer target group. Load balancers never stream.</summary>
    ApplicationLoadBalancer = 4,
}

/// <summary>What each event source allows, written once for the server and the options validator.</summary>
internal static class LambdaEventSources
{
    /// <summary>Function URLs and REST APIs can stream; HTTP APIs and load balancers only ever invoke buffered.</summary>
    public static bool CanStream(LambdaEventSource source) => source is not (LambdaEventSource.HttpApi or LambdaEventSource.ApplicationLoadBalancer);
}
