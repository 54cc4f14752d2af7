using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// The streamed response body: the prelude (JSON + 8 NUL bytes) goes out with the first flush, the first write that
/// fills the buffer or the end of the response (as Kestrel's headers do, <c>StartAsync</c> only commits it); then every
/// flush sends what was written as chunks of the <c>/response</c> request, ending when the socket took them, so a slow
/// reader slows the app instead of growing memory. Each send is one gather write: request head, prelude, body and the
/// last chunk travel together when they are ready together, and the last chunk rides with the final body bytes when
/// the body reached its <c>Content-Length</c>. A failure after the prelude went out ends the stream with the error
/// trailers (after a complete <c>Content-Length</c> body it is only logged).
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "Release gives the prelude's pooled arrays back after every invocation; the buffer holds nothing else.")]
internal sealed class StreamingResponseBodyFeature : ResponseBodyFeature
{
    private static readonly byte[] Delimiter = new byte[8];
    private readonly ILogger _logger;
    private readonly SegmentBuffer _prelude = new(1024, ChunkFraming.HeaderReserve, ChunkFraming.TrailerReserve);
    private readonly List<ArraySegment<byte>> _chunks = [];
    private StreamingResponseRequest _request = null!;
    private ResponseShape _shape;
    private bool _preludeUnsent;

    /// <summary>A streamed body for an invocation loop, reused for its invocations (see <see cref="Start"/>).</summary>
    public StreamingResponseBodyFeature(ResponseFeature response, LambdaStreamingOptions options, ILogger logger)
        : base(response, new SegmentBuffer(options.ResponseBufferSize, ChunkFraming.HeaderReserve, ChunkFraming.TrailerReserve), options)
    {
        _logger = logger;
    }

    /// <summary>Readies the feature to stream the answer of a <paramref name="method"/> request through <paramref name="request"/>.</summary>
    public StreamingResponseBodyFeature Start(StreamingResponseRequest request, ResponseShape shape, string method)
    {
        Start(method, sendThreshold: Buffer.SegmentCapacity);
        _request = request;
        _shape = shape;
        _preludeUnsent = false;
        _chunks.Clear();
        return this;
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
                    await StartCoreAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (!_request.Broken)
                {
                    Log.ApplicationError(_logger, ex);
                    error = ex;
                }
            }

            if (error is null && !aborted && ShortOfDeclaredLength() is { } shortfall)
            {
                // As on Kestrel, a body shorter than its Content-Length fails: a 500 while nothing left, else the trailers.
                Log.ApplicationError(_logger, shortfall);
                error = shortfall;
                if (_preludeUnsent)
                {
                    ReplaceWithServerError(error);
                }
            }

            if (error is null && !aborted)
            {
                if (!BodyEnded)
                {
                    await SendAsync(end: true, data: default).ConfigureAwait(false);
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
                    await SendAsync(end: true, data: default).ConfigureAwait(false);
                }
            }
            else if (!BodyEnded)
            {
                await SendAsync(end: false, data: default).ConfigureAwait(false);
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

    public override void Release()
    {
        _prelude.Dispose();
        base.Release();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask BeginAsync()
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
            await SendAsync(end: true, data: default).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends, in one write, the prelude (if not sent yet) and the buffered body as chunks framed in place, one per
    /// segment; or, with caller's <paramref name="data"/>, the buffered body and that data as one chunk. With
    /// <paramref name="end"/>, or once the body reached its declared <c>Content-Length</c>, the last chunk follows.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask SendAsync(bool end, ArraySegment<byte> data)
    {
        end |= DeclaredLengthReached;
        _chunks.Clear();
        if (_preludeUnsent)
        {
            _preludeUnsent = false;
            AddChunks(_prelude);
        }

        var joinFrom = _chunks.Count;
        AddChunks(Buffer);
        if (data.Count > 0)
        {
            _chunks.Add(data);
        }
        else
        {
            joinFrom = _chunks.Count;
        }

        if (!_request.Broken && (_chunks.Count > 0 || end))
        {
            try
            {
                await _request.SendChunksAsync(_chunks, joinFrom, end).ConfigureAwait(false);
            }
            catch (Exception ex) when (_request.Broken)
            {
                // As on Kestrel when the client went away: RequestAborted fires, the app's later writes are dropped.
                Log.StreamBroken(_logger, ex);
                Abort();
                ConnectionLost?.Invoke();
            }
        }

        _chunks.Clear(); // the caller's data is not referenced after the write
        Buffer.Clear();
        BodyEnded |= end;
    }

    protected override ValueTask EndBodyAsync() => SendAsync(end: true, data: default);

    /// <summary>Socket sends this response made so far (the request head and prelude go with the first).</summary>
    internal long SendCount => _request.SendCount;

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
