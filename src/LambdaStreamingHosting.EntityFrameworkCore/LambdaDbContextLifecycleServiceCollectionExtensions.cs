using System.Diagnostics.CodeAnalysis;
using LambdaStreamingHosting.EntityFrameworkCore;
using LambdaStreamingHosting.Lifecycle;
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
    /// <see cref="LambdaDbContextLifecycleOptions.WarmConnections"/> connections during the init phase, closes idle
    /// pooled connections after an idle gap (a freeze) of <see cref="LambdaDbContextLifecycleOptions.ThawClearThreshold"/>
    /// or more so that no request runs on a connection cut while frozen, and retries a connection open that failed
    /// with a transient error once. Call it after <c>AddDbContextPool&lt;TContext&gt;(o =&gt; o.UseNpgsql(...))</c>.
    /// With other providers (SQLite) it only warms up. Outside Lambda only the open retry is active.
    /// </summary>
    /// <typeparam name="TContext">The app's context type.</typeparam>
    /// <param name="services">The app's services.</param>
    /// <param name="configure">Sets options after they are bound from the <c>LambdaStreaming:Database</c> configuration section.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddLambdaDbContextLifecycle<[DynamicallyAccessedMembers(ContextMembers)] TContext>(
        this IServiceCollection services, Action<LambdaDbContextLifecycleOptions>? configure = null)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(services);
        var optionsName = DbContextPoolLifecycleObserver<TContext>.OptionsName;
        var options = services.AddOptions<LambdaDbContextLifecycleOptions>(optionsName)
            .BindConfiguration(LambdaDbContextLifecycleOptions.ConfigurationSectionName)
            .ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LambdaDbContextLifecycleOptions>, LambdaDbContextLifecycleOptionsValidator>());

        var alreadyAdded = services.Any(d => d.ServiceType == typeof(ILambdaLifecycleObserver)
            && d.ImplementationType == typeof(DbContextPoolLifecycleObserver<TContext>));
        if (!alreadyAdded)
        {
            services.AddSingleton<ILambdaLifecycleObserver, DbContextPoolLifecycleObserver<TContext>>();
            services.ConfigureDbContext<TContext>((provider, builder) => builder.AddInterceptors(new TransientOpenRetryInterceptor(
                provider.GetRequiredService<IOptionsMonitor<LambdaDbContextLifecycleOptions>>(),
                optionsName,
                provider.GetRequiredService<ILogger<TransientOpenRetryInterceptor>>())));
        }

        return services;
    }
}
