using LambdaStreamingHosting.Lifecycle;
using LambdaStreamingHosting.Npgsql;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the Lambda lifecycle integration for an <see cref="NpgsqlDataSource"/> used directly (Dapper, ADO.NET).</summary>
public static class LambdaNpgsqlServiceCollectionExtensions
{
    /// <summary>
    /// Keeps the pool of the app's <see cref="NpgsqlDataSource"/> (the one registered in the services, for example by
    /// <c>AddNpgsqlDataSource(connectionString)</c>) warm and safe inside AWS Lambda: opens
    /// <see cref="LambdaConnectionPoolOptions.WarmConnections"/> connections during the init phase; after every thaw,
    /// before the request enters the app, checks each idle connection with one round trip and replaces those the server
    /// closed or whose path went silent (<see cref="LambdaConnectionPoolOptions.ThawCheckTimeout"/>), keeping the
    /// healthy ones; after an idle gap of <see cref="LambdaConnectionPoolOptions.ThawClearThreshold"/> or more, closes
    /// them outright. Commands are never retried. Outside Lambda nothing runs. For EF Core contexts use
    /// <c>AddLambdaDbContextLifecycle&lt;TContext&gt;()</c>, which checks lazily, on the invocation's first open.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configure">Sets options after they are bound from the <c>LambdaStreaming:Database</c> configuration section.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddLambdaNpgsqlDataSourceLifecycle(this IServiceCollection services, Action<LambdaConnectionPoolOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LambdaConnectionPoolOptions>, LambdaConnectionPoolOptionsValidator>());
        var options = services.AddOptions<LambdaConnectionPoolOptions>(NpgsqlDataSourceLifecycleObserver.OptionsName)
            .BindConfiguration(LambdaConnectionPoolOptions.ConfigurationSectionName)
            .ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILambdaLifecycleObserver, NpgsqlDataSourceLifecycleObserver>());
        return services;
    }
}
