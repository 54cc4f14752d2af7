using Microsoft.Extensions.DependencyInjection;

namespace LambdaStreamingHosting;

/// <summary>Adds LambdaStreamingHosting to an app.</summary>
public static class LambdaStreamingServiceCollectionExtensions
{
    /// <summary>
    /// Runs the app inside AWS Lambda when the process was started by Lambda (<c>AWS_LAMBDA_RUNTIME_API</c> is set): the
    /// server is replaced by one that takes requests from the Lambda Runtime API and streams responses back. Outside
    /// Lambda nothing changes: Kestrel, <c>dotnet run</c> and <c>WebApplicationFactory</c> keep working.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configure">Sets options after they are bound from the <c>LambdaStreaming</c> configuration section.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddLambdaStreaming(this IServiceCollection services, Action<LambdaStreamingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        // Implemented by the core server work (issue 2).
        _ = configure;
        return services;
    }
}
