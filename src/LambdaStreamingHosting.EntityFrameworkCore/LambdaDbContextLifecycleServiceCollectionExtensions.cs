using System.Diagnostics.CodeAnalysis;
using LambdaStreamingHosting.EntityFrameworkCore;
using LambdaStreamingHosting.Lifecycle;
using LambdaStreamingHosting.Npgsql;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the Lambda lifecycle integration for an Entity Framework Core context.</summary>
public static class LambdaDbContextLifecycleServiceCollectionExtensions
{
    // What EF Core's own registration methods require of a context type for trimming.
    private const DynamicallyAccessedMemberTypes ContextMembers = DynamicallyAccessedMemberTypes.PublicConstructors
        | DynamicallyAccessedMemberTypes.NonPublicConstructors | DynamicallyAccessedMemberTypes.PublicProperties;

    /// <summary>
    /// Keeps <typeparamref name="TContext"/>'s connection pool warm and safe inside AWS Lambda: opens
    /// <see cref="LambdaConnectionPoolOptions.WarmConnections"/> connections during the init phase; on the context's
    /// first connection open after a thaw (and only then, and only in invocations that use the context), checks each
    /// idle pooled connection with one round trip and replaces those the server closed or whose path went silent
    /// (<see cref="LambdaConnectionPoolOptions.ThawCheckTimeout"/>), keeping the healthy ones; after an idle gap of
    /// <see cref="LambdaConnectionPoolOptions.ThawClearThreshold"/> or more, closes them outright; retries a connection
    /// open that failed with a transient error once. Commands are never retried. Call it after
    /// <c>AddDbContextPool&lt;TContext&gt;(o =&gt; o.UseNpgsql(...))</c>. With other providers (SQLite) it only warms up.
    /// Outside Lambda only the open retry is active. For an <c>NpgsqlDataSource</c> used directly (Dapper, ADO.NET) use
    /// <c>AddLambdaNpgsqlDataSourceLifecycle()</c>.
    /// </summary>
    /// <typeparam name="TContext">The app's context type.</typeparam>
    /// <param name="services">The app's services.</param>
    /// <param name="configure">Sets options after they are bound from the <c>LambdaStreaming:Database</c> configuration section.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddLambdaDbContextLifecycle<[DynamicallyAccessedMembers(ContextMembers)] TContext>(
        this IServiceCollection services, Action<LambdaConnectionPoolOptions>? configure = null)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LambdaConnectionPoolOptions>, LambdaConnectionPoolOptionsValidator>());
        var options = services.AddOptions<LambdaConnectionPoolOptions>(DbContextPoolLifecycleObserver<TContext>.OptionsName)
            .BindConfiguration(LambdaConnectionPoolOptions.ConfigurationSectionName)
            .ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (!services.Any(d => d.ServiceType == typeof(DbContextPoolLifecycleObserver<TContext>)))
        {
            services.AddSingleton<DbContextPoolLifecycleObserver<TContext>>();
            services.AddSingleton<ILambdaLifecycleObserver>(provider => provider.GetRequiredService<DbContextPoolLifecycleObserver<TContext>>());
            services.ConfigureDbContext<TContext>((provider, builder) =>
            {
                var observer = provider.GetRequiredService<DbContextPoolLifecycleObserver<TContext>>();
                builder.AddInterceptors(new ThawCheckAndOpenRetryInterceptor(
                    () => observer.Options,
                    observer.ThawCheck,
                    dataSource => NpgsqlPoolThawCheck.IsCheckedAtThaw(provider, dataSource),
                    provider.GetRequiredService<ILogger<ThawCheckAndOpenRetryInterceptor>>()));
            });
        }

        return services;
    }
}
