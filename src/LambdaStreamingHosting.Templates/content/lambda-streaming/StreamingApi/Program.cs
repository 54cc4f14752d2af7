using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.HttpOverrides;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

var builder = WebApplication.CreateBuilder(args);

// Inside AWS Lambda: serve requests from the Runtime API and stream every response through the Function URL.
// Anywhere else (dotnet run, tests): nothing changes.
builder.Services.AddLambdaStreaming();

// Traces and metrics over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (nothing is exported otherwise): each request's
// span carries the FaaS attributes, and both are exported before Lambda freezes the function.
if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
{
    builder.Services.AddOpenTelemetry()
        .WithTracing(tracing => tracing.AddLambdaStreamingInstrumentation().AddAspNetCoreInstrumentation().AddOtlpExporter())
        .WithMetrics(metrics => metrics.AddLambdaStreamingInstrumentation().AddOtlpExporter());
}

// Behind CloudFront (deploy/template.yaml with FrontDoor=CloudFront) the viewer's host arrives in X-Forwarded-Host; the
// template sets FrontDoor__TrustForwardedHost there only, where the Function URL is closed to all but the distribution.
if (builder.Configuration.GetValue<bool>("FrontDoor:TrustForwardedHost"))
{
    builder.Services.Configure<ForwardedHeadersOptions>(options =>
    {
        options.ForwardedHeaders = ForwardedHeaders.XForwardedHost;
        options.KnownIPNetworks.Clear();
        options.KnownProxies.Clear();
    });
}

var app = builder.Build();
app.UseForwardedHeaders(); // does nothing unless configured above

app.MapGet("/", () => "Hello from ASP.NET Core on AWS Lambda. GET /tokens streams server-sent events.");

// Server-sent events, one at a time: the client sees each as soon as it is written.
app.MapGet("/tokens", (CancellationToken cancellationToken) => TypedResults.ServerSentEvents(TokensAsync(cancellationToken), "token"));

await app.RunAsync();

static async IAsyncEnumerable<string> TokensAsync([EnumeratorCancellation] CancellationToken cancellationToken)
{
    for (var i = 1; i <= 10; i++)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        yield return i.ToString(CultureInfo.InvariantCulture);
    }
}
