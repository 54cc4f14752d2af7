using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.Logging;

/// <summary>Registers the Lambda logger (inside Lambda only: <c>AddLambdaStreaming</c> calls it when the Lambda server is on).</summary>
internal static class LambdaLoggingServiceCollectionExtensions
{
    public static IServiceCollection AddLambdaLogging(this IServiceCollection services, Func<string, string?>? environment = null)
    {
        var read = environment ?? Environment.GetEnvironmentVariable;
        services.AddLogging();
        services.TryAddSingleton(provider => LambdaLoggingSettings.Create(provider.GetRequiredService<IOptions<LambdaStreamingOptions>>(), read));
        services.TryAddSingleton<LambdaLoggerProvider>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoggerProvider, LambdaLoggerProvider>(provider => provider.GetRequiredService<LambdaLoggerProvider>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<LoggerFilterOptions>, LambdaLoggerFilterSetup>());
        return services;
    }
}
