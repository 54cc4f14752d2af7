using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// What the streaming and buffered response bodies share: the <see cref="PipeWriter"/> and <see cref="System.IO.Stream"/>
/// the app writes to, Kestrel's rules derived from the response's <see cref="ResponseState"/>
/// (<c>StartAsync</c> commits the headers without sending them, every write and flush goes out, HEAD bodies are
/// discarded, 204/205/304 bodies are refused, no more bytes than <c>Content-Length</c>, nothing after the body ended),
/// <c>SendFileAsync</c>, and <see cref="FinishAsync"/>: the one place that decides how the response ended. A mode (the
/// streamed or the buffered answer) provides where the bytes go and how Lambda is told.
/// </summary>
internal abstract class ResponseBodyFeature : IHttpResponseBodyFeature, IHttpBodyControlFeature
{
    /// <summary>Writes at least this large are handed on by reference: a streamed answer sends them without a copy.</summary>
    internal const int LargeWriteBytes = SendQueue.BlockSize;

    private static readonly byte[] DiscardedBytes = new byte[4096];
    private bool _isHead;

    // Body bytes the app wrote (sent or kept), and the Content-Length it declared when the response started.
    private long _bodyBytes;
    private long? _declaredLength;
    private Exception? _writerError;

    // Why the server aborted the invocation (the host is stopping); null when the app aborted it, or nobody did.
    private LambdaError? _abortReason;

    // Which invocation the stream and writer handed out belong to: bumped when one starts and when it is over.
    private int _generation;
    private ResponseBodyStream? _stream;
    private ResponseBodyPipeWriter? _writer;

    protected ResponseBodyFeature(ResponseFeature response, LambdaStreamingOptions options, ILogger logger)
    {
        Response = response;
        State = response.State;
        Options = options;
        Logger = logger;
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

    /// <summary>Where the response is in its life (the response feature's state, which this feature moves forward).</summary>
    public ResponseState State { get; }

    /// <summary>What became of the response; set by <see cref="FinishAsync"/>.</summary>
    public ResponseOutcome Outcome { get; private set; }

    /// <summary>Whether the answer is streamed (else it is one buffered document).</summary>
    protected abstract bool Streams { get; }

    /// <summary>Bytes written and not on their way yet: not flushed (streamed), or the whole body so far (buffered, which sends nothing before the end).</summary>
    internal abstract long UnflushedBytes { get; }

    protected ResponseFeature Response { get; }

    protected LambdaStreamingOptions Options { get; }

    protected ILogger Logger { get; }

    /// <summary>Where written bytes go: the streamed request's send queue, or the buffered answer's <see cref="Buffers.PooledBuffer"/>.</summary>
    protected abstract IBufferWriter<byte> BodyBuffer { get; }

    /// <summary>The status and method allow no body: bytes written are dropped (HEAD) or refused (204, 205, 304).</summary>
    protected bool IsBodyless => _isHead || StatusForbidsBody || Response.StatusCode < 200;

    /// <summary>The <c>Content-Length</c> the body is held to, from the response's start (<see langword="null"/>: none, or not yet started).</summary>
    protected long? DeclaredLength => _declaredLength;

    /// <summary>The body reached its declared <c>Content-Length</c>: the send that carries its last bytes ends it too.</summary>
    protected bool DeclaredLengthReached => _declaredLength == _bodyBytes;

    /// <summary>204, 205 and 304 answers have no body: writing one throws, started or not, as on Kestrel.</summary>
    private bool StatusForbidsBody => Response.StatusCode is StatusCodes.Status204NoContent or StatusCodes.Status205ResetContent or StatusCodes.Status304NotModified;

    /// <summary>Bytes written are dropped: the response was cut short, or it answers a HEAD request and has started.</summary>
    private bool Discarding => State.IsCutShort || (_isHead && State.HasStarted);

    /// <summary>Every write goes out already (Kestrel's is a no-op as well).</summary>
    public void DisableBuffering()
    {
    }

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
        await StartCoreAsync().ConfigureAwait(false);
        if (State.IsBodyOpen && ShortOfDeclaredLength() is { } shortfall)
        {
            throw shortfall;
        }

        await EndBodyAsync().ConfigureAwait(false);
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

    /// <summary>
    /// Answers the invocation once the app returned (or threw): decides how the response ended and lets the mode tell
    /// Lambda; returns the Runtime API's reply, or <see langword="null"/> when the connection broke without one.
    /// </summary>
    /// <param name="error">The app's exception, if it failed.</param>
    /// <param name="cancellationToken">
    /// For the Runtime API calls that answer. The loop passes <see cref="CancellationToken.None"/>: an answer always runs
    /// to its end (a host that stops aborts the response instead, which then ends with an error).
    /// </param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<RuntimeApiReply?> FinishAsync(Exception? error, CancellationToken cancellationToken)
    {
        error ??= _writerError;
        if (error is null && !State.HasStarted && !State.IsCutShort)
        {
            try
            {
                // A response the app never started starts now; its OnStarting callbacks or headers may still fail it.
                await StartCoreAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Whatever fails here becomes the answer's error.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.ApplicationError(Logger, ex);
                error = ex;
            }
        }

        var ending = EndingFor(error);
        if (ending == ResponseEnding.ShortOfContentLength)
        {
            error = ShortOfDeclaredLength();
            Log.ApplicationError(Logger, error!);
        }
        else if (ending == ResponseEnding.Clean && error is not null)
        {
            Log.ApplicationErrorAfterEnd(Logger, error);
        }

        var (reply, errorType) = await AnswerAsync(ending, error, cancellationToken).ConfigureAwait(false);
        Outcome = new ResponseOutcome(State.IsBroken ? ResponseEnding.Broken : ending, Response.StatusCode, _bodyBytes, State.FirstByteTimestamp, errorType, Streams);
        return reply;
    }

    /// <summary>The app aborted the request: later writes are dropped and the invocation ends with an error.</summary>
    public void Abort() => State.TryAbort();

    /// <summary>The server aborts the invocation (the host is stopping): as <see cref="Abort()"/>, failing with <paramref name="reason"/>.</summary>
    public void Abort(LambdaError reason)
    {
        _abortReason = reason;
        State.TryAbort();
    }

    /// <summary>
    /// The invocation is over: the stream and writer handed out for it stop working. The feature (reused by its
    /// invocation loop) waits for the next <see cref="Reset"/>.
    /// </summary>
    public virtual void Release() => EndGeneration();

    /// <summary>
    /// This feature, when <paramref name="generation"/> is the running invocation's; else (a stream or writer an app
    /// kept past its invocation) throws <see cref="ObjectDisposedException"/>, as Kestrel's do after the request.
    /// </summary>
    internal ResponseBodyFeature Of(int generation) => generation == Volatile.Read(ref _generation)
        ? this
        : throw new ObjectDisposedException(GetType().Name, "The response this body belonged to is over: its invocation ended. Keep no Response.Body or Response.BodyWriter past the request.");

    internal Memory<byte> GetMemory(int sizeHint)
    {
        ThrowIfBodyClosed();
        return !Discarding ? BodyBuffer.GetMemory(sizeHint) : sizeHint <= DiscardedBytes.Length ? DiscardedBytes : new byte[sizeHint];
    }

    internal void Advance(int count)
    {
        if (!Discarding)
        {
            ThrowIfStatusForbidsBody(count);
            CountBodyBytes(count);
            BodyBuffer.Advance(count);
            OnAdvanced();
        }
    }

    /// <summary>
    /// <c>BodyWriter.FlushAsync</c>, <c>Response.Body.FlushAsync</c>: starts the response and sends what was written.
    /// Not an async method on the way that completes at once, so a flush (and a synchronous write) costs no state machine.
    /// </summary>
    internal ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!State.HasStarted)
        {
            return StartAndFlushAsync();
        }

        if (!State.IsBodyOpen)
        {
            return default;
        }

        var send = SendBodyAsync(borrowed: default, end: false);
        if (!send.IsCompleted)
        {
            return FlushedAsync(send);
        }

        send.GetAwaiter().GetResult();
        return default;
    }

    /// <summary>
    /// <c>Response.Body</c> writes, each sent at once as on Kestrel: a small write is copied and flushed, a write of at
    /// least <see cref="LargeWriteBytes"/> is handed on by reference and completes once it was sent.
    /// </summary>
    internal ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfBodyClosed();
        ThrowIfStatusForbidsBody(source.Length);
        if (Discarding)
        {
            return default;
        }

        CountBodyBytes(source.Length);
        if (source.Length >= LargeWriteBytes && MemoryMarshal.TryGetArray(source, out var array))
        {
            return WriteLargeAsync(array);
        }

        CopyToBody(source.Span);
        var flush = FlushAsync(cancellationToken);
        if (!flush.IsCompleted)
        {
            return new ValueTask(flush.AsTask());
        }

        flush.GetAwaiter().GetResult();
        return default;
    }

    /// <summary>Synchronous <c>Response.Body</c> writes (<c>AllowSynchronousIO</c>): copied and flushed, blocking only while the reader is behind.</summary>
    internal void Write(ReadOnlySpan<byte> source)
    {
        ThrowIfBodyClosed();
        ThrowIfStatusForbidsBody(source.Length);
        if (Discarding)
        {
            return;
        }

        CountBodyBytes(source.Length);
        CopyToBody(source);
        Flush();
    }

    /// <summary>Synchronous flush: blocks only while more than <c>MaxResponseBufferSize</c> is unsent.</summary>
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
    internal void CompleteWriter(Exception? exception) => _writerError ??= exception;

    /// <summary>
    /// Makes the feature as new for an invocation answering a <paramref name="method"/> request: nothing written,
    /// synchronous IO off; bodies handed out before no longer work. (The response's state was released with the
    /// response feature when the previous invocation ended.)
    /// </summary>
    protected void Reset(string method)
    {
        EndGeneration();
        _isHead = HttpMethods.IsHead(method);
        _bodyBytes = 0;
        _declaredLength = null;
        _writerError = null;
        _abortReason = null;
        AllowSynchronousIO = false;
        Outcome = default;
        Response.BodyFeature = this;
    }

    /// <summary>
    /// Runs the <c>OnStarting</c> callbacks and starts the response, unless it started already (or was cut short):
    /// status and headers become read-only, the <c>Content-Length</c> is taken as the body's length, the mode writes
    /// its head. Nothing is sent here, except that a status without body ends the response at once.
    /// </summary>
    protected async Task StartCoreAsync()
    {
        if (State.HasStarted || State.IsCutShort)
        {
            return;
        }

        await Response.FireOnStartingAsync().ConfigureAwait(false);
        _declaredLength = IsBodyless || Response.Headers.ContainsKey(HeaderNames.TransferEncoding) ? null : Response.Headers.ContentLength;
        CountBodyBytes(0);
        WriteHead();
        Response.FreezeHeaders();
        if (State.TryStart() && IsBodyless)
        {
            // 1xx, 204, 205, 304, HEAD: the head and the end of the body at once, so nothing waits for a body.
            DiscardBody();
            _bodyBytes = 0;
            await EndBodyAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Ends the body (the last chunk goes with what was written), unless it ended or was cut short.</summary>
    protected ValueTask EndBodyAsync() => State.IsBodyOpen ? SendBodyAsync(borrowed: default, end: true) : ValueTask.CompletedTask;

    /// <summary>After the <c>OnStarting</c> callbacks ran: the streamed answer writes its prelude here (which throws for an invalid header or status).</summary>
    protected virtual void WriteHead()
    {
    }

    /// <summary>
    /// Sends what was written, then <paramref name="borrowed"/> (the caller's memory: sent before the task completes,
    /// without a copy, in the streaming mode); the buffered mode keeps both. With <paramref name="end"/> the body ends.
    /// </summary>
    protected abstract ValueTask SendAsync(ArraySegment<byte> borrowed, bool end);

    /// <summary>Tells Lambda how the response ended; returns the Runtime API's reply and the <c>errorType</c> reported, if any.</summary>
    protected abstract ValueTask<(RuntimeApiReply? Reply, string? ErrorType)> AnswerAsync(ResponseEnding ending, Exception? error, CancellationToken cancellationToken);

    /// <summary>Forgets the bytes written; only while nothing was sent.</summary>
    protected abstract void DiscardBody();

    /// <summary>Called after bytes were added to <see cref="BodyBuffer"/>.</summary>
    protected virtual void OnAdvanced()
    {
    }

    /// <summary>
    /// Replaces a failed response of which nothing was sent with a 500 (with the exception text when the options allow);
    /// a <see cref="BadHttpRequestException"/> keeps its status (413 for a body over <c>MaxRequestBodySize</c>), as on
    /// Kestrel. The response is not started again yet.
    /// </summary>
    protected void ReplaceWithServerError(Exception? error)
    {
        DiscardBody();
        _declaredLength = null;
        _bodyBytes = 0;
        Response.ResetForError(error is BadHttpRequestException badRequest ? badRequest.StatusCode : StatusCodes.Status500InternalServerError);
        if (error is not null && Options.IncludeExceptionDetails && !_isHead)
        {
            Response.Headers.ContentType = "text/plain; charset=utf-8";
            _bodyBytes = Encoding.UTF8.GetBytes(error.ToString(), BodyBuffer);
        }
    }

    /// <summary>
    /// The Lambda error for a response that <paramref name="ending"/> failed with <paramref name="error"/>: the
    /// exception's type name (its message and stack trace only with <c>IncludeExceptionDetails</c>), or
    /// <see cref="LambdaErrorTypes.RequestAborted"/>.
    /// </summary>
    protected LambdaError ErrorFor(ResponseEnding ending, Exception? error) => error switch
    {
        _ when ending == ResponseEnding.Aborted => _abortReason ?? new LambdaError(LambdaErrorTypes.RequestAborted, "The application aborted the request."),
        ResponseTooLargeException tooLarge => new LambdaError(LambdaErrorTypes.ResponseTooLarge, tooLarge.Message),
        not null => LambdaError.FromException(error, Options.IncludeExceptionDetails, "The application failed."),
        _ => new LambdaError(LambdaErrorTypes.UnhandledException, "The application failed."),
    };

    private static async ValueTask<FlushResult> FlushedAsync(ValueTask send)
    {
        await send.ConfigureAwait(false);
        return default;
    }

    private async ValueTask<FlushResult> StartAndFlushAsync()
    {
        await StartCoreAsync().ConfigureAwait(false);
        if (State.IsBodyOpen)
        {
            await SendBodyAsync(borrowed: default, end: false).ConfigureAwait(false);
        }

        return default;
    }

    private async ValueTask WriteLargeAsync(ArraySegment<byte> data)
    {
        await StartCoreAsync().ConfigureAwait(false);
        if (State.IsBodyOpen)
        {
            await SendBodyAsync(data, end: false).ConfigureAwait(false);
        }
    }

    /// <summary>How the response ended, from its state and the app's error: the one place both modes take it from.</summary>
    private ResponseEnding EndingFor(Exception? error) => State switch
    {
        { IsBroken: true } => ResponseEnding.Broken,
        { IsAborted: true } => ResponseEnding.Aborted,
        { HasEnded: true } => ResponseEnding.Clean,
        { HasStarted: false } when error is not null => ResponseEnding.FailedBeforeStart,
        _ when error is not null => ResponseEnding.FailedAfterStart,
        _ when _bodyBytes < _declaredLength => ResponseEnding.ShortOfContentLength,
        _ => ResponseEnding.Clean,
    };

    /// <summary>Sends through the mode; the body ends with this send when <paramref name="end"/> or when it reached its <c>Content-Length</c>.</summary>
    private ValueTask SendBodyAsync(ArraySegment<byte> borrowed, bool end)
    {
        end |= DeclaredLengthReached;
        return end && !State.TryEnd() ? ValueTask.CompletedTask : SendAsync(borrowed, end);
    }

    /// <summary>
    /// The error Kestrel reports when the app returned after writing fewer bytes than the <c>Content-Length</c> it
    /// declared, or <see langword="null"/> when the body is as long as declared (or no length was declared).
    /// </summary>
    private InvalidOperationException? ShortOfDeclaredLength() =>
        _bodyBytes < _declaredLength
            ? new InvalidOperationException($"Response Content-Length mismatch: too few bytes written ({_bodyBytes} of {_declaredLength}).")
            : null;

    private void EndGeneration()
    {
        Volatile.Write(ref _generation, _generation + 1);
        _stream = null;
        _writer = null;
    }

    /// <summary>Copies <paramref name="source"/> into the body, piece by piece.</summary>
    private void CopyToBody(ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            var span = BodyBuffer.GetSpan(1);
            var count = Math.Min(span.Length, source.Length);
            source[..count].CopyTo(span);
            BodyBuffer.Advance(count);
            OnAdvanced();
            source = source[count..];
        }
    }

    private void ThrowIfBodyClosed()
    {
        var state = State;
        if (state.IsCutShort || _isHead)
        {
            return;
        }

        if (state.HasStarted && IsBodyless)
        {
            throw BodyNotAllowed();
        }

        if (state.HasEnded && !DeclaredLengthReached)
        {
            throw new InvalidOperationException("Writing is not allowed after the response body was completed.");
        }
    }

    private InvalidOperationException BodyNotAllowed() =>
        new($"Writing to the response body is invalid for responses with status code {Response.StatusCode}.");

    private void ThrowIfStatusForbidsBody(int count)
    {
        if (count > 0 && !Discarding && !_isHead && StatusForbidsBody)
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
