using LambdaStreamingHosting.Lifecycle;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Resources;

namespace LambdaStreamingHosting.OpenTelemetry;

/// <summary>What the tracer and meter provider extensions share: the names, the resource and the flush registration.</summary>
internal static class LambdaStreamingInstrumentation
{
    /// <summary>ASP.NET Core hosting's activity source: each request's activity, which the adapter gives the FaaS attributes.</summary>
    public const string AspNetCoreActivitySource = "Microsoft.AspNetCore";

    /// <summary>The adapter's meter.</summary>
    public const string MeterName = "LambdaStreamingHosting";

    public static void ConfigureResource(ResourceBuilder resource) =>
        resource.AddAttributes(LambdaResource.Attributes(Environment.GetEnvironmentVariable));

    /// <summary>Registers the flush before each freeze, once however many providers ask for it.</summary>
    public static void AddFlush(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(FlushMarker)))
        {
            return;
        }

        services.AddSingleton<FlushMarker>();
        services.AddOptions<LambdaTelemetryFlushOptions>().BindConfiguration(LambdaTelemetryFlushOptions.ConfigurationSectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LambdaTelemetryFlushOptions>, LambdaTelemetryFlushOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILambdaLifecycleObserver, TelemetryFlushObserver>());
    }

    /// <summary>Marks that the flush was registered.</summary>
    private sealed class FlushMarker;
}
