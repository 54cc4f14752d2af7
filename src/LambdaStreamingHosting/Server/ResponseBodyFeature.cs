using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Text;
using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// What the streaming and buffered response bodies share: the <see cref="PipeWriter"/> and <see cref="System.IO.Stream"/>
/// the app writes to, pooled buffering, Kestrel's start and body rules (<c>StartAsync</c> commits the headers without
/// sending them, HEAD bodies are discarded, 204/304 bodies are refused, no more bytes than <c>Content-Length</c>,
/// nothing is written after the body ended), <c>SendFileAsync</c>, and how the invocation is answered.
/// </summary>
internal abstract class ResponseBodyFeature : IHttpResponseBodyFeature, IHttpBodyControlFeature
{
    /// <summary>The <c>errorType</c> of an invocation the app aborted with <c>HttpContext.Abort()</c>.</summary>
    public const string AbortedErrorType = "LambdaStreaming.RequestAborted";

    private static readonly byte[] DiscardedBytes = new byte[4096];
    private bool _isHead;
    private long _sendThreshold;

    // Body bytes the app wrote (sent or buffered), and the Content-Length it declared when the response started.
    private long _bodyBytes;
    private long? _declaredLength;

    // Which invocation the stream and writer handed out belong to: bumped when one starts and when it is over.
    private int _generation;
    private ResponseBodyStream? _stream;
    private ResponseBodyPipeWriter? _writer;

    protected ResponseBodyFeature(ResponseFeature response, SegmentBuffer buffer, LambdaStreamingOptions options)
    {
        Response = response;
        Buffer = buffer;
        Options = options;
    }

    /// <summary>
    /// <c>Response.Body</c>: made for the invocation on first use; once the invocation is over it throws
    /// <see cref="ObjectDisposedException"/>, so an app that kept it can never write into a later invocation's response.
    /// </summary>
    public Stream Stream => _stream ??= new ResponseBodyStream(this, _generation);

    /// <summary><c>Response.BodyWriter</c>: made for the invocation on first use, dead after it, as <see cref="Stream"/>.</summary>
    public PipeWriter Writer => _writer ??= new ResponseBodyPipeWriter(this, _generation);

    /// <summary>Whether <c>Response.Body.Write</c>/<c>Flush</c> may block (off by default, as on Kestrel).</summary>
    public bool AllowSynchronousIO { get; set; }

    protected ResponseFeature Response { get; }

    protected SegmentBuffer Buffer { get; }

    protected LambdaStreamingOptions Options { get; }

    /// <summary>The body ended (bodyless status, <c>CompleteAsync</c>, or the answer was sent): no more bytes go out.</summary>
    protected bool BodyEnded { get; set; }

    /// <summary>The status and method allow no body: bytes written are dropped (HEAD) or refused (204, 205, 304).</summary>
    protected bool IsBodyless => _isHead || StatusForbidsBody || Response.StatusCode < 200;

    /// <summary>204, 205 and 304 answers have no body: writing one throws, started or not, as on Kestrel.</summary>
    private bool StatusForbidsBody => Response.StatusCode is StatusCodes.Status204NoContent or StatusCodes.Status205ResetContent or StatusCodes.Status304NotModified;

    /// <summary>The app aborted the request: further writes are dropped, as on Kestrel.</summary>
    protected bool Aborted { get; private set; }

    /// <summary>Why the server aborted the invocation; <see langword="null"/> when the app did.</summary>
    private LambdaError? AbortReason { get; set; }

    /// <summary>Called when the Runtime API connection broke while the response was sent (fires <c>RequestAborted</c>).</summary>
    public Action? ConnectionLost { get; set; }

    /// <summary>The exception the app completed the <see cref="Writer"/> with, if any.</summary>
    protected Exception? WriterError { get; private set; }

    public void DisableBuffering() => _sendThreshold = 1;

    /// <summary>
    /// Starts the response: runs the <c>OnStarting</c> callbacks and makes status and headers read-only. As on Kestrel,
    /// nothing is sent yet: the prelude goes out with the next flush, write or the end of the response.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return StartCoreAsync();
    }

    /// <summary>Ends the body now; a body shorter than its <c>Content-Length</c> throws instead, as on Kestrel.</summary>
    public async Task CompleteAsync()
    {
        if (!BodyEnded)
        {
            await StartCoreAsync().ConfigureAwait(false);
            if (ShortOfDeclaredLength() is { } shortfall)
            {
                throw shortfall;
            }

            await EndBodyAsync().ConfigureAwait(false);
        }
    }

    public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (count is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "The byte count cannot be negative.");
        }

        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (file.ConfigureAwait(false))
        {
            if (offset > 0)
            {
                file.Seek(offset, SeekOrigin.Begin);
            }

            // Each read goes out as its own flush, so a file that grows while it is sent (a log, a pipe) streams too.
            var remaining = count ?? long.MaxValue;
            while (remaining > 0)
            {
                var memory = GetMemory(0);
                var read = await file.ReadAsync(memory[..(int)Math.Min(memory.Length, remaining)], cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                Advance(read);
                remaining -= read;
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Answers the invocation once the app returned (or threw); returns the Runtime API's reply, or null when the connection broke.</summary>
    /// <param name="error">The app's exception, if it failed.</param>
    /// <param name="aborted">Whether the app called <c>HttpContext.Abort()</c>.</param>
    /// <param name="cancellationToken">Signalled when the host stops.</param>
    public abstract ValueTask<RuntimeApiReply?> FinishAsync(Exception? error, bool aborted, CancellationToken cancellationToken);

    public void Abort() => Aborted = true;

    /// <summary>The server aborts the invocation (the host is stopping): as <see cref="Abort()"/>, failing with <paramref name="reason"/>.</summary>
    public void Abort(LambdaError reason)
    {
        AbortReason = reason;
        Aborted = true;
    }

    /// <summary>
    /// The invocation is over: the stream and writer handed out for it stop working, and the pooled arrays go back.
    /// The feature (reused by its invocation loop) waits for the next <see cref="Start"/>.
    /// </summary>
    public virtual void Release()
    {
        EndGeneration();
        Buffer.Dispose();
    }

    /// <summary>
    /// This feature, when <paramref name="generation"/> is the running invocation's; else (a stream or writer an app
    /// kept past its invocation) throws <see cref="ObjectDisposedException"/>, as Kestrel's do after the request.
    /// </summary>
    internal ResponseBodyFeature Of(int generation) => generation == Volatile.Read(ref _generation)
        ? this
        : throw new ObjectDisposedException(GetType().Name, "The response this body belonged to is over: its invocation ended. Keep no Response.Body or Response.BodyWriter past the request.");

    /// <summary>
    /// Makes the feature as new for an invocation answering a <paramref name="method"/> request: nothing written, not
    /// started, not aborted, synchronous IO off; bodies handed out before no longer work.
    /// </summary>
    protected void Start(string method, long sendThreshold)
    {
        EndGeneration();
        _isHead = HttpMethods.IsHead(method);
        _sendThreshold = sendThreshold;
        _bodyBytes = 0;
        _declaredLength = null;
        BodyEnded = false;
        Aborted = false;
        AbortReason = null;
        WriterError = null;
        AllowSynchronousIO = false;
        Response.BodyFeature = this;
    }

    /// <summary>Body bytes of the answer: what the app wrote (none for HEAD), or the error body that replaced it.</summary>
    internal long BodyBytes => _bodyBytes;

    /// <summary>Bytes written and not sent yet.</summary>
    internal long UnflushedBytes => Buffer.Length;

    /// <summary>
    /// The app declared a <c>Content-Length</c> and wrote exactly that many bytes: the body is complete, so the send
    /// that carries its last bytes ends the stream too.
    /// </summary>
    protected bool DeclaredLengthReached => _declaredLength == _bodyBytes;

    internal Memory<byte> GetMemory(int sizeHint)
    {
        ThrowIfBodyClosed();
        return !Discarding ? Buffer.GetMemory(sizeHint) : sizeHint <= DiscardedBytes.Length ? DiscardedBytes : new byte[sizeHint];
    }

    internal void Advance(int count)
    {
        if (!Discarding)
        {
            ThrowIfStatusForbidsBody(count);
            CountBodyBytes(count);
            Buffer.Advance(count);
            OnAdvanced();
        }
    }

    internal async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        await StartCoreAsync().ConfigureAwait(false);
        if (!BodyEnded && !Aborted)
        {
            await SendAsync(end: false, data: default).ConfigureAwait(false);
        }

        return new FlushResult(isCanceled: false, isCompleted: false);
    }

    /// <summary>
    /// <c>Response.Body</c> writes: small writes gather in the buffer, which is sent when it fills; a write at least
    /// as large as the buffer is sent at once, after what is buffered, without copying it.
    /// </summary>
    internal async ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfBodyClosed();
        ThrowIfStatusForbidsBody(source.Length);
        if (Discarding)
        {
            return;
        }

        CountBodyBytes(source.Length);
        if (source.Length >= _sendThreshold && MemoryMarshal.TryGetArray(source, out var array))
        {
            await StartCoreAsync().ConfigureAwait(false);
            if (!BodyEnded && !Aborted)
            {
                await SendAsync(end: false, array).ConfigureAwait(false);
            }

            return;
        }

        while (!source.IsEmpty)
        {
            source = source[CopyToBuffer(source.Span)..];
            if (Buffer.Length >= _sendThreshold)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Synchronous <c>Response.Body</c> writes (<c>AllowSynchronousIO</c>): as <see cref="WriteAsync"/>, blocking on sends.</summary>
    internal void Write(ReadOnlySpan<byte> source)
    {
        ThrowIfBodyClosed();
        ThrowIfStatusForbidsBody(source.Length);
        if (Discarding)
        {
            return;
        }

        CountBodyBytes(source.Length);
        while (!source.IsEmpty)
        {
            source = source[CopyToBuffer(source)..];
            if (Buffer.Length >= _sendThreshold)
            {
                Flush();
            }
        }
    }

    /// <summary>Synchronous flush: blocks until the socket took the bytes.</summary>
    internal void Flush()
    {
        var flush = FlushAsync(CancellationToken.None);
        if (flush.IsCompleted)
        {
            flush.GetAwaiter().GetResult();
        }
        else
        {
            flush.AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>The app completed the <see cref="Writer"/>: with an exception, the response fails.</summary>
    internal void CompleteWriter(Exception? exception) => WriterError ??= exception;

    /// <summary>
    /// Sends what is buffered followed by <paramref name="data"/> (the caller's memory, sent without copying before
    /// the task completes) in the streaming mode; keeps both in the buffered mode. With <paramref name="end"/> the body ends.
    /// </summary>
    protected abstract ValueTask SendAsync(bool end, ArraySegment<byte> data);

    /// <summary>
    /// Runs the <c>OnStarting</c> callbacks and starts the response, unless it started already: status and headers
    /// become read-only, the <c>Content-Length</c> is taken as the body's length. Nothing is sent here.
    /// </summary>
    protected async Task StartCoreAsync()
    {
        if (Response.HasStarted)
        {
            return;
        }

        await Response.FireOnStartingAsync().ConfigureAwait(false);
        _declaredLength = IsBodyless || Response.Headers.ContainsKey(HeaderNames.TransferEncoding) ? null : Response.Headers.ContentLength;
        CountBodyBytes(0);
        await BeginAsync().ConfigureAwait(false);
    }

    /// <summary>Starts the response after the <c>OnStarting</c> callbacks ran (the streaming body writes the prelude).</summary>
    protected abstract ValueTask BeginAsync();

    /// <summary>Ends the body before the app returned (<c>CompleteAsync</c>).</summary>
    protected abstract ValueTask EndBodyAsync();

    /// <summary>Called after bytes were added to <see cref="Buffer"/>.</summary>
    protected virtual void OnAdvanced()
    {
    }

    /// <summary>
    /// The error Kestrel reports when the app returned after writing fewer bytes than the <c>Content-Length</c> it
    /// declared, or <see langword="null"/> when the body is as long as declared (or no length was declared).
    /// </summary>
    protected InvalidOperationException? ShortOfDeclaredLength() =>
        _bodyBytes < _declaredLength
            ? new InvalidOperationException($"Response Content-Length mismatch: too few bytes written ({_bodyBytes} of {_declaredLength}).")
            : null;

    /// <summary>
    /// Replaces a failed, not-started response with a 500 (with the exception text when the options allow); a
    /// <see cref="BadHttpRequestException"/> keeps its status (413 for a body over <c>MaxRequestBodySize</c>), as on Kestrel.
    /// </summary>
    protected void ReplaceWithServerError(Exception? error)
    {
        Buffer.Clear();
        _declaredLength = null;
        Response.ResetForError(error is BadHttpRequestException badRequest ? badRequest.StatusCode : StatusCodes.Status500InternalServerError);
        if (error is not null && Options.IncludeExceptionDetails && !_isHead)
        {
            Response.Headers.ContentType = "text/plain; charset=utf-8";
            Encoding.UTF8.GetBytes(error.ToString(), Buffer);
        }

        _bodyBytes = Buffer.Length;
    }

    /// <summary>The Lambda error for a failed invocation.</summary>
    protected LambdaError ErrorFor(Exception? error, bool aborted) => error switch
    {
        ResponseTooLargeException tooLarge => new LambdaError(ResponseTooLargeException.ErrorType, tooLarge.Message),
        not null => LambdaError.FromException(error, Options.IncludeExceptionDetails, "The application failed."),
        _ when aborted => AbortReason ?? new LambdaError(AbortedErrorType, "The application aborted the request."),
        _ => new LambdaError(LambdaError.UnhandledErrorType, "The application failed."),
    };

    private void EndGeneration()
    {
        Volatile.Write(ref _generation, _generation + 1);
        _stream = null;
        _writer = null;
    }

    /// <summary>Copies what fits of <paramref name="source"/> into the buffer's current segment; returns the bytes taken.</summary>
    private int CopyToBuffer(ReadOnlySpan<byte> source)
    {
        var span = Buffer.GetSpan(1);
        var count = Math.Min(span.Length, source.Length);
        source[..count].CopyTo(span);
        Buffer.Advance(count);
        OnAdvanced();
        return count;
    }

    private bool Discarding => Aborted || (_isHead && Response.HasStarted) || (_isHead && BodyEnded);

    private void ThrowIfBodyClosed()
    {
        if (Aborted || _isHead)
        {
            return;
        }

        if (Response.HasStarted && IsBodyless)
        {
            throw BodyNotAllowed();
        }

        if (BodyEnded && !DeclaredLengthReached)
        {
            throw new InvalidOperationException("Writing is not allowed after the response body was completed.");
        }
    }

    private InvalidOperationException BodyNotAllowed() =>
        new($"Writing to the response body is invalid for responses with status code {Response.StatusCode}.");

    private void ThrowIfStatusForbidsBody(int count)
    {
        if (count > 0 && !Aborted && !_isHead && StatusForbidsBody)
        {
            throw BodyNotAllowed();
        }
    }

    /// <summary>Counts body bytes about to be written; more than the declared <c>Content-Length</c> throws, as on Kestrel.</summary>
    private void CountBodyBytes(long count)
    {
        if (_bodyBytes + count > _declaredLength)
        {
            throw new InvalidOperationException($"Response Content-Length mismatch: too many bytes written ({_bodyBytes + count} of {_declaredLength}).");
        }

        _bodyBytes += count;
    }
}
