using LambdaStreamingHosting.OpenTelemetry;

// In OpenTelemetry's namespace, as its own instrumentation extensions are.
namespace OpenTelemetry.Metrics;

/// <summary>Adds LambdaStreamingHosting's metrics to an OpenTelemetry meter provider.</summary>
public static class LambdaStreamingMeterProviderBuilderExtensions
{
    /// <summary>
    /// Collects the adapter's <c>LambdaStreamingHosting</c> meter (<c>faas.invocations</c>, <c>faas.errors</c>,
    /// <c>faas.coldstarts</c>, <c>faas.timeouts</c>, <c>faas.init_duration</c>, <c>faas.invoke_duration</c>, time to
    /// first byte, body size, idle gap, stream failures); adds the function's resource attributes; and exports the
    /// metrics after each answer, before Lambda may freeze the function (bounded by
    /// <see cref="LambdaTelemetryFlushOptions.Timeout"/>). Use it inside
    /// <c>services.AddOpenTelemetry().WithMetrics(...)</c>, so the flush joins the app's services.
    /// </summary>
    /// <param name="builder">The meter provider builder.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static MeterProviderBuilder AddLambdaStreamingInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder
            .AddMeter(LambdaStreamingInstrumentation.MeterName)
            .ConfigureResource(LambdaStreamingInstrumentation.ConfigureResource)
            .ConfigureServices(LambdaStreamingInstrumentation.AddFlush);
    }
}
