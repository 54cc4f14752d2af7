using System.Buffers;
using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// The streamed response body: the prelude (JSON + 8 NUL bytes) goes out on <c>StartAsync</c>, the first flush or
/// when the buffer fills; then every flush sends what was written as chunks of the <c>/response</c> request, ending
/// when the socket took them, so a slow reader slows the app instead of growing memory. A failure after the prelude
/// ends the stream with the error trailers.
/// </summary>
internal sealed class StreamingResponseBodyFeature : ResponseBodyFeature
{
    private static readonly byte[] Delimiter = new byte[8];
    private readonly StreamingResponseRequest _request;
    private readonly ResponseShape _shape;
    private readonly ILogger _logger;
    private readonly SegmentBuffer _prelude = new(1024, ChunkFraming.HeaderReserve, ChunkFraming.TrailerReserve);

    public StreamingResponseBodyFeature(ResponseFeature response, StreamingResponseRequest request, ResponseShape shape, string method, LambdaStreamingOptions options, ILogger logger)
        : this(response, new SegmentBuffer(options.ResponseBufferSize, ChunkFraming.HeaderReserve, ChunkFraming.TrailerReserve), request, shape, method, options, logger)
    {
    }

    private StreamingResponseBodyFeature(ResponseFeature response, SegmentBuffer buffer, StreamingResponseRequest request, ResponseShape shape, string method, LambdaStreamingOptions options, ILogger logger)
        : base(response, buffer, method, options, sendThreshold: buffer.SegmentCapacity)
    {
        _request = request;
        _shape = shape;
        _logger = logger;
    }

    public override async Task<RuntimeApiReply?> FinishAsync(Exception? error, bool aborted, CancellationToken cancellationToken)
    {
        error ??= WriterError;
        try
        {
            if (error is null && !aborted && !Response.HasStarted)
            {
                try
                {
                    await StartAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (!_request.Broken)
                {
                    Log.ApplicationError(_logger, ex);
                    error = ex;
                }
            }

            if (error is null && !aborted)
            {
                if (!BodyEnded)
                {
                    await SendAsync(end: true).ConfigureAwait(false);
                }
            }
            else if (!Response.HasStarted && error is null)
            {
                // Aborted before anything was sent: a plain invocation error (the client gets a 502).
                return await _request.FailBeforeStartAsync(ErrorFor(error, aborted), cancellationToken).ConfigureAwait(false);
            }
            else if (!Response.HasStarted)
            {
                ReplaceWithServerError(error);
                await BeginAsync().ConfigureAwait(false);
                if (!BodyEnded)
                {
                    await SendAsync(end: true).ConfigureAwait(false);
                }
            }
            else if (!BodyEnded)
            {
                await SendAsync(end: false).ConfigureAwait(false);
                await _request.EndWithErrorAsync(ErrorFor(error, aborted)).ConfigureAwait(false);
                BodyEnded = true;
            }
            else if (error is not null)
            {
                Log.ApplicationErrorAfterEnd(_logger, error);
            }

            return await _request.ReadReplyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_request.Broken)
        {
            Log.StreamBroken(_logger, ex);
            await _request.AbandonAsync().ConfigureAwait(false);
            return null;
        }
    }

    public override void Dispose()
    {
        _prelude.Dispose();
        base.Dispose();
    }

    protected override async ValueTask BeginAsync()
    {
        _prelude.Clear();
        PreludeWriter.Write(_prelude, _shape, Response.StatusCode, Response.Headers);
        _prelude.Write(Delimiter);
        Response.MarkStarted();
        if (IsBodyless)
        {
            // 204, 304, HEAD: prelude, delimiter and the end of the stream at once, so nothing waits for a body.
            Buffer.Clear();
            await SendSegmentsAsync(_prelude, end: true).ConfigureAwait(false);
        }
        else
        {
            await SendSegmentsAsync(_prelude, end: false).ConfigureAwait(false);
        }
    }

    protected override ValueTask SendAsync(bool end) => SendSegmentsAsync(Buffer, end);

    protected override ValueTask EndBodyAsync() => SendAsync(end: true);

    private async ValueTask SendSegmentsAsync(SegmentBuffer buffer, bool end)
    {
        // Each segment is one chunk, framed in place; the last one carries the end of the body when it comes.
        SegmentBuffer.Segment? pending = null;
        for (var segment = buffer.First; segment is not null; segment = segment.NextSegment)
        {
            if (segment.Count == 0)
            {
                continue;
            }

            if (pending is not null)
            {
                await _request.SendChunkAsync(pending.Array, pending.DataOffset, pending.Count, end: false).ConfigureAwait(false);
            }

            pending = segment;
        }

        if (pending is not null)
        {
            await _request.SendChunkAsync(pending.Array, pending.DataOffset, pending.Count, end).ConfigureAwait(false);
        }
        else if (end)
        {
            await _request.EndAsync().ConfigureAwait(false);
        }

        buffer.Clear();
        BodyEnded |= end;
    }
}
