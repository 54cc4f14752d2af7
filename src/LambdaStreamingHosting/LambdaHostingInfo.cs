using LambdaStreamingHosting.Server;
using Microsoft.AspNetCore.Hosting.Server;

namespace LambdaStreamingHosting;

/// <summary>
/// What the app runs on, for packages that behave differently inside Lambda (as
/// <c>LambdaStreamingHosting.OpenTelemetry</c> does at shutdown). Registered as a singleton service by
/// <c>AddLambdaStreaming</c> and <c>AddLambdaServer</c>; resolve it with
/// <c>services.GetService&lt;LambdaHostingInfo&gt;()</c> (absent when neither was called: no Lambda server).
/// </summary>
public sealed class LambdaHostingInfo
{
    internal LambdaHostingInfo(bool usesLambdaServer) => UsesLambdaServer = usesLambdaServer;

    /// <summary>
    /// Whether the app's server is the Lambda server, taking requests from a Lambda Runtime API: inside Lambda, under
    /// <c>LambdaApplicationFactory</c> and with <c>AddLambdaServer</c>. <see langword="false"/> on Kestrel or another
    /// server (for instance <c>WebApplicationFactory</c>'s test server).
    /// </summary>
    public bool UsesLambdaServer { get; }

    /// <summary>Asks the app's <see cref="IServer"/> what it is.</summary>
    internal static LambdaHostingInfo Create(IServiceProvider services) =>
        new(services.GetService(typeof(IServer)) is LambdaServer);
}
