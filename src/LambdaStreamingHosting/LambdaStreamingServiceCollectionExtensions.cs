using System.Diagnostics;
using LambdaStreamingHosting;
using LambdaStreamingHosting.Logging;
using LambdaStreamingHosting.Server;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

// In the namespace of IServiceCollection, as ASP.NET Core's own Add* methods are, so that Program.cs needs no using:
// the one line is the whole change.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds LambdaStreamingHosting to an app.</summary>
public static class LambdaStreamingServiceCollectionExtensions
{
    /// <summary>
    /// Runs the app inside AWS Lambda when the process was started by Lambda (<c>AWS_LAMBDA_RUNTIME_API</c> is set): the
    /// server is replaced by one that takes requests from the Lambda Runtime API and streams responses back, log entries
    /// are written one per line in Lambda's log format (see <see cref="LambdaStreamingOptions.UseLambdaLogger"/>), and
    /// the host stops within Lambda's shutdown budget on <c>SIGTERM</c>. Outside Lambda nothing changes: Kestrel,
    /// <c>dotnet run</c> and <c>WebApplicationFactory</c> keep working.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configure">Sets options after they are bound from the <c>LambdaStreaming</c> configuration section.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddLambdaStreaming(this IServiceCollection services, Action<LambdaStreamingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        AddLambdaStreamingOptions(services);
        if (configure is not null)
        {
            services.Configure(configure);
        }

        var settings = LambdaServerSettings.FromEnvironment();
        if (!string.IsNullOrEmpty(settings.RuntimeApiEndpoint))
        {
            services.AddLambdaServer(settings);
            services.AddLambdaLogging();
            services.PostConfigure<HostOptions>(LambdaServer.UseLambdaShutdownTimeout);
            InitErrorReporter.Register(settings);
        }

        return services;
    }

    /// <summary>
    /// Runs the app on the Lambda server whatever the environment, taking requests from the Lambda Runtime API at
    /// <paramref name="runtimeApiEndpoint"/> (<c>host:port[/path]</c>; it wins over
    /// <see cref="LambdaStreamingOptions.RuntimeApiEndpoint"/>), with the options the app configured. This is what
    /// <c>LambdaApplicationFactory</c> does with its emulator; an app inside Lambda calls
    /// <see cref="AddLambdaStreaming"/> instead, which also sets up Lambda's log format and shutdown budget.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="runtimeApiEndpoint">The Runtime API to take invocations from (an emulator's, in tests).</param>
    /// <param name="timeProvider">
    /// The clock the Runtime API computes its deadlines on, which the server measures deadlines and idle times on
    /// (an emulator's fake clock, in tests); <see cref="TimeProvider.System"/> when <see langword="null"/>.
    /// </param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddLambdaServer(this IServiceCollection services, string runtimeApiEndpoint, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(runtimeApiEndpoint);
        return services.AddLambdaServer(new LambdaServerSettings
        {
            RuntimeApiEndpoint = runtimeApiEndpoint, EndpointOverridesOptions = true, Time = timeProvider ?? TimeProvider.System,
        });
    }

    /// <summary>Registers the Lambda server with explicit <paramref name="settings"/> (what it would read from the environment).</summary>
    internal static IServiceCollection AddLambdaServer(this IServiceCollection services, LambdaServerSettings settings)
    {
        AddLambdaStreamingOptions(services);
        services.AddOptions<LambdaStreamingOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LambdaStreamingOptions>, LambdaStreamingOptionsValidator>());
        services.RemoveAll<LambdaServerSettings>();
        services.AddSingleton(settings);
        services.RemoveAll<IServer>();
        services.AddSingleton<IServer, LambdaServer>();
        AddTracePropagator(services);
        return services;
    }

    /// <summary>
    /// Wraps the <see cref="DistributedContextPropagator"/> hosting takes each request's remote parent from (the one
    /// registered, else <see cref="DistributedContextPropagator.Current"/>), so that a request without a parent can
    /// continue its invocation's X-Ray trace (<see cref="LambdaStreamingOptions.ContinueXRayTrace"/>).
    /// </summary>
    private static void AddTracePropagator(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(TracePropagatorMarker)))
        {
            return;
        }

        services.AddSingleton<TracePropagatorMarker>();
        var registered = services.LastOrDefault(d => d.ServiceType == typeof(DistributedContextPropagator) && !d.IsKeyedService);
        services.RemoveAll<DistributedContextPropagator>();
        services.AddSingleton<DistributedContextPropagator>(provider => new InvocationTracePropagator(registered switch
        {
            { ImplementationInstance: DistributedContextPropagator instance } => instance,
            { ImplementationFactory: { } factory } => (DistributedContextPropagator)factory(provider),
            { ImplementationType: { } type } => (DistributedContextPropagator)ActivatorUtilities.CreateInstance(provider, type),
            _ => DistributedContextPropagator.Current,
        }));
    }

    private static void AddLambdaStreamingOptions(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(OptionsMarker)))
        {
            return;
        }

        services.AddSingleton<OptionsMarker>();
        services.AddOptions<LambdaStreamingOptions>().BindConfiguration(LambdaStreamingOptions.ConfigurationSectionName);
        services.TryAddSingleton(LambdaHostingInfo.Create);
    }

    /// <summary>Marks that the options binding was registered, so it is registered once.</summary>
    private sealed class OptionsMarker;

    /// <summary>Marks that the propagator was wrapped, so it is wrapped once.</summary>
    private sealed class TracePropagatorMarker;
}
