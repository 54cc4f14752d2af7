using LambdaStreamingHosting.OpenTelemetry;

// In OpenTelemetry's namespace, as its own instrumentation extensions are.
namespace OpenTelemetry.Trace;

/// <summary>Adds LambdaStreamingHosting's tracing to an OpenTelemetry tracer provider.</summary>
public static class LambdaStreamingTracerProviderBuilderExtensions
{
    /// <summary>
    /// Records each request's span (ASP.NET Core hosting's <c>Microsoft.AspNetCore</c> source), which inside Lambda
    /// carries the FaaS attributes (<c>faas.invocation_id</c>, <c>faas.coldstart</c>, <c>faas.trigger</c>,
    /// <c>cloud.provider</c>, <c>cloud.region</c>, <c>cloud.account.id</c>, <c>aws.lambda.invoked_arn</c>); adds the
    /// function's resource attributes (<c>faas.name</c>, <c>faas.version</c>, <c>faas.instance</c>,
    /// <c>faas.max_memory</c>, <c>cloud.*</c>); and exports the spans after each answer, before Lambda may freeze the
    /// function (bounded by <see cref="LambdaTelemetryFlushOptions.Timeout"/>). Use it inside
    /// <c>services.AddOpenTelemetry().WithTracing(...)</c>, so the flush joins the app's services.
    /// </summary>
    /// <param name="builder">The tracer provider builder.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static TracerProviderBuilder AddLambdaStreamingInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder
            .AddSource(LambdaStreamingInstrumentation.AspNetCoreActivitySource)
            .ConfigureResource(LambdaStreamingInstrumentation.ConfigureResource)
            .ConfigureServices(LambdaStreamingInstrumentation.AddFlush);
    }
}
