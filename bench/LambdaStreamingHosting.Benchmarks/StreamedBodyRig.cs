using System.IO.Pipelines;
using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.RuntimeApi;
using LambdaStreamingHosting.Server;
using Microsoft.Extensions.Logging.Abstractions;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// A streamed response body whose prelude already went out, on a real loopback socket to a <see cref="DiscardServer"/>:
/// what the chunk-writer and keep-alive benchmarks write into. The stream never ends; disposing drops its connection.
/// </summary>
internal sealed class StreamedBodyRig : IAsyncDisposable
{
    private readonly DiscardServer _sink;
    private readonly RuntimeApiClient _client;
    private readonly StreamingResponseRequest _request;
    private readonly StreamingResponseBodyFeature _body;

    private StreamedBodyRig(DiscardServer sink, RuntimeApiClient client, StreamingResponseRequest request, StreamingResponseBodyFeature body)
    {
        _sink = sink;
        _client = client;
        _request = request;
        _body = body;
    }

    /// <summary><c>Response.Body</c>.</summary>
    public Stream Stream => _body.Stream;

    /// <summary><c>Response.BodyWriter</c>.</summary>
    public PipeWriter Writer => _body.Writer;

    /// <summary>Starts a response with <paramref name="options"/> and <paramref name="contentType"/> and sends its head.</summary>
    public static async Task<StreamedBodyRig> StartAsync(LambdaStreamingOptions options, string? contentType = null)
    {
        var sink = new DiscardServer();
        var client = new RuntimeApiClient(RuntimeApiEndpoint.Parse(sink.Endpoint));
        var response = new ResponseFeature();
        var body = new StreamingResponseBodyFeature(response, client, options, NullLogger.Instance);
        var request = await client.BeginStreamingResponseAsync("benchmark-request", null, response.State, options.MaxResponseBufferSize, body.ConnectionBroken, CancellationToken.None);
        body.Reset(request, ResponseShape.PayloadV2, "GET");
        if (contentType is not null)
        {
            response.Headers.ContentType = contentType;
        }

        await body.StartAsync();
        await body.Writer.FlushAsync(); // the request head and the prelude go out here, once
        return new StreamedBodyRig(sink, client, request, body);
    }

    public async ValueTask DisposeAsync()
    {
        await _request.Body.DrainAsync(); // no send in flight any more
        _body.Release();
        _body.Dispose();
        await _client.AbandonAsync(_request); // the stream never ends: drop its connection
        await _client.DisposeAsync();
        await _sink.DisposeAsync();
    }
}
