using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.OpenTelemetry.Tests;

/// <summary>
/// A small OTLP/HTTP collector on loopback (Kestrel): <c>POST /v1/traces</c> and <c>/v1/metrics</c> with
/// <c>application/x-protobuf</c> bodies are decoded and kept before they are answered, so once an exporter's request
/// completed, what it sent is here. <see cref="HoldAnswers"/> makes it slow: requests wait (undecoded) until
/// <see cref="ReleaseAnswers"/>; <see cref="DelaySpanAnswers"/> makes each span export wait (undecoded) a given time.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly ConcurrentQueue<IReadOnlyList<ReceivedPoint>> _metricExports = new();
    private volatile TaskCompletionSource? _hold;
    private TimeSpan _spanDelay;

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>The base URL, the value of <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public string Endpoint { get; private set; } = "";

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", (HttpRequest request) => receiver.ReceiveAsync(request, body => receiver.Add(OtlpMessages.DecodeTraces(body)), receiver._spanDelay));
        app.MapPost("/v1/metrics", (HttpRequest request) => receiver.ReceiveAsync(request, body => receiver._metricExports.Enqueue(OtlpMessages.DecodeMetrics(body)), TimeSpan.Zero));
        await app.StartAsync();
        receiver.Endpoint = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return receiver;
    }

    /// <summary>What was received so far.</summary>
    public ReceivedTelemetry Snapshot() => new([.. _spans], [.. _metricExports]);

    public void HoldAnswers() => _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void ReleaseAnswers() => _hold?.TrySetResult();

    /// <summary>
    /// Each span export from now on is read only after <paramref name="delay"/>, a collector far away or busy (metric
    /// exports are not delayed: a metric flush waits for its export anyway, and would hide a span flush that did not).
    /// </summary>
    public void DelaySpanAnswers(TimeSpan delay) => _spanDelay = delay;

    public async ValueTask DisposeAsync()
    {
        ReleaseAnswers();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private void Add(List<ReceivedSpan> spans)
    {
        foreach (var span in spans)
        {
            _spans.Enqueue(span);
        }
    }

    private async Task<IResult> ReceiveAsync(HttpRequest request, Action<byte[]> decode, TimeSpan delay)
    {
        if (_hold is { } hold)
        {
            await hold.Task;
        }

        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay);
        }

        if (request.ContentType != "application/x-protobuf")
        {
            return Results.StatusCode(StatusCodes.Status415UnsupportedMediaType);
        }

        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        decode(body.ToArray());
        // An empty Export*ServiceResponse: full success.
        return Results.Bytes([], "application/x-protobuf");
    }
}

/// <summary>The spans and the metric exports (each a full set of points, cumulative) a receiver held at one moment.</summary>
public sealed record ReceivedTelemetry(IReadOnlyList<ReceivedSpan> Spans, IReadOnlyList<IReadOnlyList<ReceivedPoint>> MetricExports)
{
    /// <summary>The span of invocation <paramref name="requestId"/> (by <c>faas.invocation_id</c>), or null.</summary>
    public ReceivedSpan? SpanOf(string requestId) =>
        Spans.SingleOrDefault(span => Equals(span.Attributes.GetValueOrDefault("faas.invocation_id"), requestId));

    /// <summary>The points of <paramref name="metric"/> in the latest metric export.</summary>
    public IReadOnlyList<ReceivedPoint> Latest(string metric) =>
        MetricExports.Count == 0 ? [] : [.. MetricExports[^1].Where(point => point.Metric == metric)];
}
