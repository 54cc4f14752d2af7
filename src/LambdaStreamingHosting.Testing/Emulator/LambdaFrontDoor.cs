namespace LambdaStreamingHosting.Testing;

/// <summary>The front end an invocation came through.</summary>
public enum LambdaFrontDoor
{
    /// <summary>A Lambda Function URL (payload 2.0); streams when <see cref="LambdaEmulatorOptions.InvokeMode"/> is <see cref="LambdaInvokeMode.ResponseStream"/>.</summary>
    FunctionUrl = 0,

    /// <summary>An API Gateway REST API (payload 1.0); streams when <see cref="LambdaEmulatorOptions.RestApiStreaming"/> is on.</summary>
    RestApi = 1,

    /// <summary>An API Gateway HTTP API (payload 2.0 with a stage); never streams.</summary>
    HttpApi = 2,

    /// <summary>An Application Load Balancer target group; never streams.</summary>
    ApplicationLoadBalancer = 3,

    /// <summary>
    /// Lambda's own API: <c>Invoke</c> and <c>InvokeWithResponseStream</c>, as an AWS SDK calls them
    /// (<see cref="LambdaEmulator.LambdaApiUrl"/>); the event is the caller's payload, as sent.
    /// </summary>
    LambdaApi = 4,
}
