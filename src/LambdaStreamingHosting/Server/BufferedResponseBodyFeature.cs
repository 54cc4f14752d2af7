using System.Buffers;
using System.Runtime.CompilerServices;
using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// The buffered response body (BUFFERED Function URLs, API Gateway, ALB): the body is collected in pooled segments,
/// up to the Runtime API's limit, and sent as one JSON document when the app finished. Nothing leaves the function
/// before that, so a failure at any point becomes a clean 500.
/// </summary>
internal sealed class BufferedResponseBodyFeature : ResponseBodyFeature
{
    /// <summary>Documents up to this size keep their array for the next invocation; a larger one is let go.</summary>
    private const int RetainedDocumentBytes = 64 * 1024;
    private readonly RuntimeApiClient _client;
    private readonly ILogger _logger;
    private ArrayBufferWriter<byte>? _document;
    private string _requestId = "";
    private ResponseShape _shape;
    private int _limit;

    /// <summary>A buffered body for an invocation loop, reused for its invocations (see <see cref="Start"/>).</summary>
    public BufferedResponseBodyFeature(ResponseFeature response, RuntimeApiClient client, LambdaStreamingOptions options, ILogger logger)
        : base(response, new SegmentBuffer(options.ResponseBufferSize), options)
    {
        _client = client;
        _logger = logger;
    }

    /// <summary>Readies the feature to collect the answer of invocation <paramref name="requestId"/> to a <paramref name="method"/> request.</summary>
    public BufferedResponseBodyFeature Start(string requestId, ResponseShape shape, string method)
    {
        Start(method, sendThreshold: long.MaxValue);
        _requestId = requestId;
        _shape = shape;
        _limit = BufferedResponseWriter.LimitOf(shape);
        return this;
    }

    public override void Release()
    {
        _requestId = "";
        if (_document is { Capacity: > RetainedDocumentBytes })
        {
            _document = null;
        }

        _document?.ResetWrittenCount();
        base.Release();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<RuntimeApiReply?> FinishAsync(Exception? error, bool aborted, CancellationToken cancellationToken)
    {
        error ??= WriterError;
        if (error is null && !aborted && !Response.HasStarted)
        {
            try
            {
                await StartCoreAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.ApplicationError(_logger, ex);
                error = ex;
            }
        }

        if (error is null && !aborted && ShortOfDeclaredLength() is { } shortfall)
        {
            // As on Kestrel, a body shorter than its Content-Length fails (here: a clean 500).
            Log.ApplicationError(_logger, shortfall);
            error = shortfall;
        }

        if ((aborted && error is null) || error is ResponseTooLargeException)
        {
            return await _client.PostErrorAsync(_requestId, ErrorFor(error, aborted), cancellationToken).ConfigureAwait(false);
        }

        if (error is not null)
        {
            ReplaceWithServerError(error);
            Response.MarkStarted();
        }

        var document = _document ??= new ArrayBufferWriter<byte>((int)Math.Min(Buffer.Length + 1024, _limit));
        document.ResetWrittenCount();
        try
        {
            WriteDocument(document);
        }
        catch (InvalidOperationException ex)
        {
            // A header or status the app set cannot be sent (CR/LF, NUL, a status outside 100-599): answer 500 instead.
            Log.ApplicationError(_logger, ex);
            ReplaceWithServerError(ex);
            Response.MarkStarted();
            document.ResetWrittenCount();
            WriteDocument(document);
        }
        catch (ResponseTooLargeException ex)
        {
            Log.ResponseTooLarge(_logger, ex.Message);
            return await _client.PostErrorAsync(_requestId, ErrorFor(ex, aborted: false), cancellationToken).ConfigureAwait(false);
        }

        return await _client.PostResponseAsync(_requestId, document.WrittenMemory, cancellationToken).ConfigureAwait(false);
    }

    private void WriteDocument(ArrayBufferWriter<byte> document)
    {
        var body = IsBodyless ? ReadOnlySequence<byte>.Empty : Buffer.AsSequence();
        BufferedResponseWriter.Write(document, _shape, Response.StatusCode, Response.Headers, body, Options);
    }

    protected override void OnAdvanced()
    {
        // The front end's limit applies to the whole JSON document; a body alone over it can never fit.
        if (Buffer.Length > _limit)
        {
            throw ResponseTooLargeException.For(_shape, Buffer.Length, _limit, bodyOnly: true);
        }
    }

    protected override ValueTask BeginAsync()
    {
        Response.MarkStarted();
        if (IsBodyless)
        {
            Buffer.Clear();
        }

        return ValueTask.CompletedTask;
    }

    protected override ValueTask SendAsync(bool end, ArraySegment<byte> data)
    {
        // Nothing leaves before the app finished: a large write (DisableBuffering makes every write one) is kept too.
        if (data.Count > 0)
        {
            Buffer.Write(data.AsSpan());
            OnAdvanced();
        }

        BodyEnded |= end;
        return ValueTask.CompletedTask;
    }

    protected override ValueTask EndBodyAsync() => SendAsync(end: true, data: default);
}
