using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// OpenTelemetry exporting to exporters that drop what they get, so the cost measured is the SDK's and the adapter's,
/// not a network's: spans through the simple processor (the processor for an exporter that does no I/O; under the
/// batch processor such an exporter ends its export before a flush can wait for it, and the flush then waits out
/// OpenTelemetry's one-second poll in up to 3 of 100 flushes), metrics through a periodic reader.
/// </summary>
internal static class DroppingTelemetry
{
    /// <summary>Adds <paramref name="mode"/> (<c>off</c>, <c>tracing</c>, <c>tracing+metrics</c>) to an app.</summary>
    public static void Add(IServiceCollection services, string mode, bool lambda)
    {
        if (mode == "off")
        {
            return;
        }

        var telemetry = services.AddOpenTelemetry().WithTracing(tracing =>
        {
            if (lambda)
            {
                tracing.AddLambdaStreamingInstrumentation();
            }
            else
            {
                tracing.AddSource("Microsoft.AspNetCore");
            }

            tracing.AddProcessor(new SimpleActivityExportProcessor(new DroppingExporter<Activity>()));
        });
        if (mode == "tracing+metrics")
        {
            telemetry.WithMetrics(metrics =>
            {
                if (lambda)
                {
                    metrics.AddLambdaStreamingInstrumentation();
                }

                metrics.AddMeter("Microsoft.AspNetCore.Hosting");
                metrics.AddReader(new PeriodicExportingMetricReader(new DroppingExporter<Metric>()));
            });
        }
    }

    private sealed class DroppingExporter<T> : BaseExporter<T>
        where T : class
    {
        public override ExportResult Export(in Batch<T> batch) => ExportResult.Success;
    }
}
