using System.Buffers;
using System.Runtime.CompilerServices;
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
    private readonly List<ArraySegment<byte>> _chunks = [];
    private bool _preludeUnsent;

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

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<RuntimeApiReply?> FinishAsync(Exception? error, bool aborted, CancellationToken cancellationToken)
    {
        error ??= WriterError;
        try
        {
            if (error is null && !aborted && !Response.HasStarted)
            {
                try
                {
                    await StartCoreAsync(sendNow: false).ConfigureAwait(false);
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
                await BeginAsync(sendNow: false).ConfigureAwait(false);
                if (!BodyEnded)
                {
                    await SendAsync(end: true).ConfigureAwait(false);
                }
            }
            else if (!BodyEnded)
            {
                await SendAsync(end: false).ConfigureAwait(false);
                if (!_request.Broken)
                {
                    await _request.EndWithErrorAsync(ErrorFor(error, aborted)).ConfigureAwait(false);
                }

                BodyEnded = true;
            }
            else if (error is not null)
            {
                Log.ApplicationErrorAfterEnd(_logger, error);
            }

            if (_request.Broken)
            {
                // The break was logged when a send failed; a reply sent before it (413, 410) is all that may come.
                return await _request.ReadEarlyReplyAsync(cancellationToken).ConfigureAwait(false);
            }

            return await _request.ReadReplyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_request.Broken && ex is not RuntimeApiFatalException)
        {
            Log.StreamBroken(_logger, ex);
            return await _request.ReadEarlyReplyAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override void Dispose()
    {
        _prelude.Dispose();
        base.Dispose();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask BeginAsync(bool sendNow)
    {
        _prelude.Clear();
        PreludeWriter.Write(_prelude, _shape, Response.StatusCode, Response.Headers);
        _prelude.Write(Delimiter);
        Response.MarkStarted();
        _preludeUnsent = true;
        if (IsBodyless)
        {
            // 204, 304, HEAD: prelude, delimiter and the end of the stream at once, so nothing waits for a body.
            Buffer.Clear();
            await SendAsync(end: true).ConfigureAwait(false);
        }
        else if (sendNow)
        {
            await SendAsync(end: false).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends the prelude (if not sent yet) and the buffered body as chunks, one per segment, all in one write; with
    /// <paramref name="end"/> the last chunk follows.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask SendAsync(bool end)
    {
        _chunks.Clear();
        if (_preludeUnsent)
        {
            _preludeUnsent = false;
            AddChunks(_prelude);
        }

        AddChunks(Buffer);
        if (!_request.Broken && (_chunks.Count > 0 || end))
        {
            try
            {
                await _request.SendChunksAsync(_chunks, end).ConfigureAwait(false);
            }
            catch (Exception ex) when (_request.Broken)
            {
                // As on Kestrel when the client went away: RequestAborted fires, the app's later writes are dropped.
                Log.StreamBroken(_logger, ex);
                Abort();
                ConnectionLost?.Invoke();
            }
        }

        Buffer.Clear();
        BodyEnded |= end;
    }

    protected override ValueTask EndBodyAsync() => SendAsync(end: true);

    private void AddChunks(SegmentBuffer buffer)
    {
        for (var segment = buffer.First; segment is not null; segment = segment.NextSegment)
        {
            if (segment.Count > 0)
            {
                _chunks.Add(new ArraySegment<byte>(segment.Array, segment.DataOffset, segment.Count));
            }
        }
    }
}
