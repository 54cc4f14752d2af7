using System.Buffers;
using System.Runtime.CompilerServices;
using LambdaStreamingHosting.Buffers;
using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// The streamed response body, sent as Kestrel sends one: every write and flush goes to the Runtime API at once
/// through the request's <see cref="SendQueue"/> (writes that come while a send is in flight leave together with the
/// next one), <c>GetMemory</c>/<c>Advance</c> without a flush stays buffered, and a writer waits only while more than
/// <c>MaxResponseBufferSize</c> is unsent, so a slow reader slows the app. The prelude (JSON + 8 NUL bytes) leads the
/// first send; <c>StartAsync</c> only builds it, as Kestrel's commits its headers without sending them. A small complete
/// answer is one send (request head, prelude, body and the last chunk, which rides with the bytes that complete a
/// <c>Content-Length</c>). A failure after the start ends the stream with the error trailers.
/// </summary>
/// <remarks>
/// A <c>text/event-stream</c> answer gets keep-alive comments in its quiet gaps (see <see cref="SseKeepAlive"/>), from
/// the moment its head is committed until the app returned.
/// </remarks>
internal sealed class StreamingResponseBodyFeature : ResponseBodyFeature, IDisposable
{
    private static readonly byte[] Delimiter = new byte[8];
    private readonly PooledBuffer _prelude = new(minimumSize: 1024, retainedSize: 16 * 1024);
    private readonly RuntimeApiClient _client;
    private readonly TimeProvider _time;
    private StreamingResponseRequest _request = null!;
    private ResponseShape _shape;
    private SseKeepAlive? _keepAlive;
    private bool _answering;

    /// <summary>
    /// A streamed body for an invocation loop, reused for its invocations (see <see cref="Reset"/>); the loop's
    /// <paramref name="client"/> reads each request's reply; keep-alive comments are timed on <paramref name="time"/>
    /// (the server's clock; <see cref="TimeProvider.System"/> when none is given).
    /// </summary>
    public StreamingResponseBodyFeature(ResponseFeature response, RuntimeApiClient client, LambdaStreamingOptions options, ILogger logger, TimeProvider? time = null)
        : base(response, options, logger)
    {
        _client = client;
        _time = time ?? TimeProvider.System;
        ConnectionBroken = OnConnectionBroken;
    }

    /// <summary>Called when the Runtime API connection broke while the response was sent (fires <c>RequestAborted</c>).</summary>
    public Action? ConnectionLost { get; set; }

    /// <summary>
    /// What the streamed request's send queue calls, once, when a send failed (see
    /// <see cref="RuntimeApiClient.BeginStreamingResponseAsync"/>): logs the break and calls <see cref="ConnectionLost"/>.
    /// </summary>
    public Action<Exception> ConnectionBroken { get; }

    /// <summary>Socket sends this response made so far (the request head and prelude go with the first).</summary>
    internal long SendCount => _request.SendCount;

    /// <summary>Body bytes committed so far: every byte written and flushed (sent, in the send in flight, or leaving with the next).</summary>
    internal long CommittedBodyBytes => _request.Body.CommittedBytes;

    internal override long UnflushedBytes => _request.Body.UnflushedBytes;

    protected override bool Streams => true;

    protected override IBufferWriter<byte> BodyBuffer => _request.Body;

    /// <summary>
    /// Readies the feature to stream the answer of a <paramref name="method"/> request through <paramref name="request"/>,
    /// which the client began with <see cref="ConnectionBroken"/> as its observer.
    /// </summary>
    public StreamingResponseBodyFeature Reset(StreamingResponseRequest request, ResponseShape shape, string method)
    {
        Reset(method);
        _request = request;
        _shape = shape;
        _answering = false;
        return this;
    }

    public override void Release()
    {
        _keepAlive?.Stop();
        _prelude.Release();
        base.Release();
    }

    /// <summary>The loop is over: the keep-alive timer goes, and the prelude's pooled array goes back.</summary>
    public void Dispose()
    {
        _keepAlive?.Dispose();
        _prelude.Dispose();
    }

    /// <summary>
    /// Sends a keep-alive comment if the answer is open, was quiet since <paramref name="quietSince"/> and is between
    /// events (see <see cref="SendQueue.TryCommitComment"/>); <paramref name="lastCommit"/> is when bytes were last
    /// committed (<paramref name="now"/> when the comment was). Called by <see cref="SseKeepAlive"/>'s timer, never while the answer is being ended.
    /// </summary>
    internal bool TrySendKeepAlive(long now, long quietSince, out long lastCommit)
    {
        lastCommit = now;
        return State.IsBodyOpen && _request.Body.TryCommitComment(SseKeepAlive.CommentChunk, now, quietSince, out lastCommit);
    }

    protected override void WriteHead()
    {
        _prelude.Clear();
        PreludeWriter.Write(_prelude, _shape, Response.StatusCode, Response.Headers);
        _prelude.Write(Delimiter);
        _request.Body.SetPrelude(_prelude.WrittenSpan);
        if (Options.ServerSentEventsKeepAliveInterval is var interval && interval > TimeSpan.Zero && !_answering && !IsBodyless
            && Response.Headers.ContentLength is null && ContentTypes.IsEventStream(Response.Headers.ContentType))
        {
            _request.Body.TrackEvents(_time);
            (_keepAlive ??= new SseKeepAlive(this, _time)).Start(interval);
        }
    }

    protected override ValueTask SendAsync(ArraySegment<byte> borrowed, bool end)
    {
        var body = _request.Body;
        return borrowed.Count > 0 ? body.SendAsync(borrowed, end) : end ? body.EndAsync() : body.FlushAsync();
    }

    protected override void DiscardBody() => _request.Body.DiscardUnflushed();

    /// <summary>
    /// Clean: the last chunk. Failed before anything was sent: a 500 (or <c>/error</c> when aborted). Failed after: what
    /// was written, then the error trailers. Then, once everything is on the wire, the reply (or, after a break, the
    /// reply the Runtime API sent before closing, if any).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    protected override async ValueTask<(RuntimeApiReply? Reply, string? ErrorType)> AnswerAsync(ResponseEnding ending, Exception? error, CancellationToken cancellationToken)
    {
        // The app is done: no comment may go from here on (nor race the ending or the choice of how to end).
        _answering = true;
        _keepAlive?.Stop();
        string? errorType = null;
        var nothingSent = !State.AnythingSent;
        switch (ending)
        {
            case ResponseEnding.Broken:
                break;
            case ResponseEnding.Aborted when nothingSent:
                var abort = ErrorFor(ending, error);
                return (await _client.PostErrorInsteadAsync(_request, abort, cancellationToken).ConfigureAwait(false), abort.ErrorType);
            case ResponseEnding.FailedBeforeStart:
            case ResponseEnding.ShortOfContentLength when nothingSent:
                ReplaceWithServerError(error);
                await StartCoreAsync().ConfigureAwait(false);
                await EndBodyAsync().ConfigureAwait(false);
                break;
            case ResponseEnding.Clean:
                await EndBodyAsync().ConfigureAwait(false);
                break;
            default:
                // Failed after the start, aborted or short of Content-Length once bytes went out: the error trailers.
                var failure = ErrorFor(ending, error);
                errorType = failure.ErrorType;
                await _request.EndWithErrorAsync(failure).ConfigureAwait(false);
                break;
        }

        await _request.Body.DrainAsync().ConfigureAwait(false);
        if (State.IsBroken)
        {
            // The break was logged when the send failed; a reply sent before it (413, 410) is all that may come.
            return (await _client.ReadEarlyStreamingReplyAsync(_request, cancellationToken).ConfigureAwait(false), errorType);
        }

        return (await _client.ReadStreamingReplyAsync(_request, cancellationToken).ConfigureAwait(false), errorType);
    }

    /// <summary>
    /// A send failed and the send queue marked the response broken (on the app's thread or the socket's, in the
    /// invocation's execution context; once): as on Kestrel when the client went away, it is logged,
    /// <c>RequestAborted</c> fires, and the app's later writes are dropped because the state says so.
    /// </summary>
    private void OnConnectionBroken(Exception exception)
    {
        Log.StreamBroken(Logger, exception);
        ConnectionLost?.Invoke();
    }
}
