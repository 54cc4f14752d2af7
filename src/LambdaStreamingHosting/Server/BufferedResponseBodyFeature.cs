using System.Buffers;
using System.Runtime.CompilerServices;
using LambdaStreamingHosting.Buffers;
using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// The buffered response body (BUFFERED Function URLs, API Gateway, ALB): the body is collected in a pooled buffer,
/// up to the front end's limit, and sent as one JSON document when the app finished. Nothing leaves the function
/// before that, so a failure at any point becomes a clean 500.
/// </summary>
internal sealed class BufferedResponseBodyFeature : ResponseBodyFeature, IDisposable
{
    // Bodies and documents up to 64 KiB keep their array for the next invocation; a larger one is let go.
    private readonly PooledBuffer _body = new();
    private readonly PooledBuffer _document = new();
    private readonly RuntimeApiClient _client;
    private string _requestId = "";
    private string? _invocationId;
    private ResponseShape _shape;
    private int _limit;

    /// <summary>A buffered body for an invocation loop, reused for its invocations (see <see cref="Reset"/>).</summary>
    public BufferedResponseBodyFeature(ResponseFeature response, RuntimeApiClient client, LambdaStreamingOptions options, ILogger logger)
        : base(response, options, logger)
    {
        _client = client;
    }

    internal override long UnflushedBytes => _body.Length;

    /// <summary>The size of the body's buffer now.</summary>
    internal int BodyCapacity => _body.Capacity;

    protected override bool Streams => false;

    protected override IBufferWriter<byte> BodyBuffer => _body;

    /// <summary>
    /// Readies the feature to collect the answer of invocation <paramref name="requestId"/> (delivered as
    /// <paramref name="invocationId"/>, echoed when not null) to a <paramref name="method"/> request.
    /// </summary>
    public BufferedResponseBodyFeature Reset(string requestId, string? invocationId, ResponseShape shape, string method)
    {
        Reset(method);
        _requestId = requestId;
        _invocationId = invocationId;
        _shape = shape;
        _limit = BufferedResponseWriter.LimitOf(shape);
        return this;
    }

    public override void Release()
    {
        _requestId = "";
        _invocationId = null;
        _document.Release();
        _body.Release();
        base.Release();
    }

    /// <summary>The loop is over: the pooled arrays go back.</summary>
    public void Dispose()
    {
        _document.Dispose();
        _body.Dispose();
    }

    /// <summary>
    /// Clean: the document with the body. Failed (before or after the start, or short of its <c>Content-Length</c>): a
    /// 500 document, since nothing was sent. Aborted, or a body over the front end's limit: <c>/error</c>.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    protected override async ValueTask<(RuntimeApiReply? Reply, string? ErrorType)> AnswerAsync(ResponseEnding ending, Exception? error, CancellationToken cancellationToken)
    {
        if (ending == ResponseEnding.Aborted || (ending != ResponseEnding.Clean && error is ResponseTooLargeException))
        {
            return await PostErrorAsync(ending, error, cancellationToken).ConfigureAwait(false);
        }

        if (ending != ResponseEnding.Clean)
        {
            ReplaceWithServerError(error);
            await StartCoreAsync().ConfigureAwait(false);
        }

        var document = _document;
        document.Clear();
        document.GetSpan((int)Math.Min((_body.Length * 4L / 3) + 1024, _limit)); // room for the body, base64-encoded or not, at once
        try
        {
            WriteDocument(document);
        }
        catch (InvalidOperationException ex)
        {
            // A header or status the app set cannot be sent (CR/LF, NUL, a status outside 100-599): answer 500 instead.
            Log.ApplicationError(Logger, ex);
            ReplaceWithServerError(ex);
            await StartCoreAsync().ConfigureAwait(false);
            document.Clear();
            WriteDocument(document);
        }
        catch (ResponseTooLargeException ex)
        {
            Log.ResponseTooLarge(Logger, ex.Message);
            return await PostErrorAsync(ResponseEnding.FailedAfterStart, ex, cancellationToken).ConfigureAwait(false);
        }

        State.MarkSent(); // the document, all of the answer at once
        return (await _client.PostResponseAsync(_requestId, _invocationId, document.WrittenMemory, cancellationToken).ConfigureAwait(false), null);
    }

    /// <summary>
    /// A <c>Content-Length</c> the app declared, within the front end's limit, sizes the body's buffer once, so a large
    /// body is not copied as its buffer grows.
    /// </summary>
    protected override void WriteHead()
    {
        if (DeclaredLength is long length && length > 0 && length <= _limit && _body.Length == 0)
        {
            _body.GetSpan((int)length);
        }
    }

    protected override void OnAdvanced()
    {
        // The front end's limit applies to the whole JSON document; a body alone over it can never fit.
        if (_body.Length > _limit)
        {
            throw ResponseTooLargeException.For(_shape, _body.Length, _limit, bodyOnly: true);
        }
    }

    protected override ValueTask SendAsync(ArraySegment<byte> borrowed, bool end)
    {
        // Nothing leaves before the app finished: a large write is kept too.
        if (borrowed.Count > 0)
        {
            _body.Write(borrowed.AsSpan());
            OnAdvanced();
        }

        return ValueTask.CompletedTask;
    }

    protected override void DiscardBody() => _body.Clear();

    private async ValueTask<(RuntimeApiReply? Reply, string? ErrorType)> PostErrorAsync(ResponseEnding ending, Exception? error, CancellationToken cancellationToken)
    {
        var failure = ErrorFor(ending, error);
        return (await _client.PostErrorAsync(_requestId, _invocationId, failure, cancellationToken).ConfigureAwait(false), failure.ErrorType);
    }

    private void WriteDocument(PooledBuffer document)
    {
        var body = IsBodyless ? default : _body.WrittenSpan;
        BufferedResponseWriter.Write(document, _shape, Response.StatusCode, Response.Headers, body, Options);
    }
}
