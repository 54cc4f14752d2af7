using Microsoft.AspNetCore.HttpOverrides;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using StreamingApi;
using StreamingApi.Benchmarks;
using StreamingApi.Streaming;
#if !NATIVE_AOT
using StreamingApi.Components;
using StreamingApi.Data;
#endif

var builder = WebApplication.CreateBuilder(args);

// The one line. Inside AWS Lambda it replaces the server and streams every response through the Function URL;
// anywhere else (dotnet run, tests) nothing changes.
builder.Services.AddLambdaStreaming();

// Traces and metrics over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (nothing is exported otherwise): each request's
// span carries the FaaS attributes, and both are exported before Lambda freezes the function.
if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
{
    builder.Services.AddOpenTelemetry()
        .WithTracing(tracing => tracing.AddLambdaStreamingInstrumentation().AddAspNetCoreInstrumentation().AddOtlpExporter())
        .WithMetrics(metrics => metrics.AddLambdaStreamingInstrumentation().AddOtlpExporter());
}

// Behind CloudFront (deploy/template.yaml with FrontDoor=CloudFront) the Function URL receives CloudFront's request:
// its Host is the URL's own, and the viewer's arrives in X-Forwarded-Host (the distribution's viewer-request function
// sets it, overwriting any the client sent). The template turns this on only there: the URL is closed to everyone but
// the distribution, so the header can be trusted. The scheme needs nothing: it comes from X-Forwarded-Proto, always
// https from CloudFront (which redirects viewers to https).
if (builder.Configuration.GetValue<bool>("FrontDoor:TrustForwardedHost"))
{
    builder.Services.Configure<ForwardedHeadersOptions>(options =>
    {
        options.ForwardedHeaders = ForwardedHeaders.XForwardedHost;
        // No proxy address to check: every request comes from CloudFront, whose addresses change.
        options.KnownIPNetworks.Clear();
        options.KnownProxies.Clear();
    });
}

builder.Services.AddProblemDetails();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, StreamingApiJsonContext.Default));
builder.Services.AddStreamingExamples(builder.Configuration);

#if !NATIVE_AOT
// Database: PostgreSQL when ConnectionStrings:Postgres is set, otherwise an embedded SQLite file (Data/NotesDatabase.cs).
builder.AddNotesDatabase();

// A page rendered with streaming rendering (Components/). Razor components are not Native AOT compatible.
builder.Services.AddRazorComponents();
// Serve _framework/blazor.web.js from a build output too (lambda-streaming run); published output needs nothing.
builder.WebHost.UseStaticWebAssets();
builder.Services.AddSingleton<IReportSource, SimulatedReportSource>();
#endif

var app = builder.Build();

app.UseForwardedHeaders(); // does nothing unless configured above
app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapStreamingExamples();
app.MapBenchmarkEndpoints(); // only with Benchmarks:Enabled=true (bench/EndToEnd)

#if !NATIVE_AOT
await app.CreateNotesSchemaAsync();
app.MapNotes();

app.UseAntiforgery();
app.MapStaticAssets();
app.MapRazorComponents<App>();
#endif

await app.RunAsync();
