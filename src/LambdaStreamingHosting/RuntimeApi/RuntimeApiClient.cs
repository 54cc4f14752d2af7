using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using LambdaStreamingHosting.Server;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// Our client for the Lambda Runtime API (2018-06-01): <c>/next</c> without timeout, buffered and streamed
/// <c>/response</c>, <c>/error</c>, <c>/init/error</c> and the SnapStart restore calls. One client serves one
/// invocation loop, so requests never overlap; it keeps its keep-alive connection between calls (see
/// docs/design.md for the measured cost of reconnecting). A 5xx reply, a refused connection or a broken reply
/// throw <see cref="RuntimeApiFatalException"/>: the process must exit.
/// </summary>
internal sealed class RuntimeApiClient : IAsyncDisposable
{
    private const string UserAgent = "LambdaStreamingHosting/1.0";
    private const string StreamingResponseHeaders =
        "Lambda-Runtime-Function-Response-Mode: streaming\r\n" +
        "Transfer-Encoding: chunked\r\n" +
        "Content-Type: application/vnd.awslambda.http-integration-response\r\n" +
        $"Trailer: {ChunkFraming.ErrorTypeTrailer}, {ChunkFraming.ErrorBodyTrailer}\r\n";

    private const string StreamedResponse = "the streamed /response";
    private const string InvocationIdHeader = "Lambda-Runtime-Invocation-Id: ";
    private static readonly ApiPath NextPath = new("runtime/invocation/next");
    private readonly bool _reuseConnections;

    // The request target up to the API path, and what follows it up to the request's own headers.
    private readonly string _targetStart;
    private readonly string _commonHeaders;

    // GET /next never changes: its head is built once.
    private readonly ArraySegment<byte> _nextHead;
    private RuntimeApiConnection? _idle;

    // The streamed /response of this client's loop, reused from one invocation to the next.
    private StreamingResponseRequest? _streaming;

    public RuntimeApiClient(RuntimeApiEndpoint endpoint, bool reuseConnections = true)
    {
        Endpoint = endpoint;
        _reuseConnections = reuseConnections;
        _targetStart = endpoint.Target("");
        _commonHeaders = " HTTP/1.1\r\nHost: " + endpoint.HostHeader + "\r\nUser-Agent: " + UserAgent + "\r\n";
        var next = RentHead("GET", NextPath, null, contentLength: null);
        _nextHead = new ArraySegment<byte>(next.AsSpan().ToArray());
        ArrayPool<byte>.Shared.Return(next.Array!);
    }

    public RuntimeApiEndpoint Endpoint { get; }

    /// <summary>
    /// Waits, without timeout, for the next invocation and reads it into <paramref name="invocation"/>, the loop's
    /// reused one (its previous event is overwritten).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask NextAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        const string Request = "GET /runtime/invocation/next";
        var connection = await AcquireAsync(cancellationToken).ConfigureAwait(false);
        int status;
        try
        {
            await connection.SendAsync(_nextHead, cancellationToken).ConfigureAwait(false);
            status = await connection.ReadInvocationAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException)
        {
            throw Broken(connection, Request, ex);
        }
        finally
        {
            await ReleaseAsync(connection).ConfigureAwait(false);
        }

        if (status != 200)
        {
            // Only on this fatal path does the reply become an object of its own, for the message.
            var reply = ThrowIfFatal(new RuntimeApiReply(status, keepAlive: false, invocation.Event.ToArray()), Request);
            throw new RuntimeApiFatalException($"{Request} answered {reply}.");
        }

        invocation.ThrowIfIncomplete();
    }

    /// <summary>SnapStart: waits until the environment was restored from its snapshot.</summary>
    public Task<RuntimeApiReply> RestoreNextAsync(CancellationToken cancellationToken) =>
        SendAsync("GET", new ApiPath("runtime/restore/next"), null, ReadOnlyMemory<byte>.Empty, cancellationToken).AsTask();

    /// <summary>
    /// Posts a buffered response document; <paramref name="invocationId"/>, the delivery's
    /// <c>Lambda-Runtime-Invocation-Id</c>, goes with it when <c>/next</c> sent one (<see cref="Invocation.InvocationId"/>).
    /// </summary>
    public ValueTask<RuntimeApiReply> PostResponseAsync(string requestId, string? invocationId, ReadOnlyMemory<byte> document, CancellationToken cancellationToken) =>
        SendAsync("POST", InvocationPath(requestId, "/response"), "Content-Type: application/json\r\n", document, cancellationToken, invocationId);

    /// <summary>Reports that an invocation failed (with its <paramref name="invocationId"/>, as <see cref="PostResponseAsync"/>).</summary>
    public ValueTask<RuntimeApiReply> PostErrorAsync(string requestId, string? invocationId, LambdaError error, CancellationToken cancellationToken) =>
        PostErrorDocumentAsync(InvocationPath(requestId, "/error"), error, cancellationToken, invocationId);

    /// <summary>Reports that the init phase failed; the process must exit afterwards.</summary>
    public Task<RuntimeApiReply> PostInitErrorAsync(LambdaError error, CancellationToken cancellationToken) =>
        PostErrorDocumentAsync(new ApiPath("runtime/init/error"), error, cancellationToken).AsTask();

    /// <summary>SnapStart: reports that the after-restore hooks failed.</summary>
    public Task<RuntimeApiReply> PostRestoreErrorAsync(LambdaError error, CancellationToken cancellationToken) =>
        PostErrorDocumentAsync(new ApiPath("runtime/restore/error"), error, cancellationToken).AsTask();

    /// <summary>
    /// Begins a streamed <c>/response</c>. Nothing is sent yet: the request head goes out with the first commit of its
    /// body (see <see cref="SendQueue"/>). The connection belongs to the returned request until
    /// <see cref="ReadStreamingReplyAsync"/>, <see cref="ReadEarlyStreamingReplyAsync"/>, <see cref="PostErrorInsteadAsync"/> or <see cref="AbandonAsync"/>
    /// takes it back. The request object is this client's one, reused: beginning another while it holds its connection
    /// throws. Its send queue reports into <paramref name="state"/>, the response's, which says whether anything was
    /// sent; commits wait while more than <paramref name="maxUnsentBytes"/> are unsent (<see langword="null"/>: never),
    /// and <paramref name="broken"/> hears once of a send that failed. <paramref name="invocationId"/> goes in its head
    /// (and in the <c>/error</c> that may replace it) when not null.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<StreamingResponseRequest> BeginStreamingResponseAsync(string requestId, string? invocationId, ResponseState state, long? maxUnsentBytes, Action<Exception>? broken, CancellationToken cancellationToken)
    {
        if (_streaming is { IsReleased: false })
        {
            throw new InvalidOperationException("The previous streamed /response still holds its connection: read its reply or abandon it first.");
        }

        var connection = await AcquireAsync(cancellationToken).ConfigureAwait(false);
        var head = RentHead("POST", InvocationPath(requestId, "/response"), StreamingResponseHeaders, contentLength: null, invocationId);
        var request = _streaming ??= new StreamingResponseRequest();
        request.Reset(connection, requestId, invocationId, head, state, maxUnsentBytes, broken);
        return request;
    }

    /// <summary>Reads the Runtime API's reply to the finished streamed <paramref name="request"/> and takes its connection back.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<RuntimeApiReply> ReadStreamingReplyAsync(StreamingResponseRequest request, CancellationToken cancellationToken)
    {
        try
        {
            var reply = await request.Connection.ReadReplyAsync(cancellationToken).ConfigureAwait(false);
            return ThrowIfFatal(reply, StreamedResponse);
        }
        catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException)
        {
            throw new RuntimeApiFatalException($"Reading the reply to a streamed /response from {Endpoint} failed: {ex.Message}", ex);
        }
        finally
        {
            await ReleaseAsync(request).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After a send of <paramref name="request"/> failed: the reply the Runtime API sent before it closed the connection
    /// (413, 410), or <see langword="null"/>; takes the connection back.
    /// </summary>
    public async Task<RuntimeApiReply?> ReadEarlyStreamingReplyAsync(StreamingResponseRequest request, CancellationToken cancellationToken)
    {
        try
        {
            var reply = await request.Connection.TryReadEarlyReplyAsync(cancellationToken).ConfigureAwait(false);
            return reply is { } early ? ThrowIfFatal(early, StreamedResponse) : null;
        }
        finally
        {
            await ReleaseAsync(request).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Answers the invocation of <paramref name="request"/> with <c>/error</c> instead, which is only possible while
    /// nothing of the stream was sent; the streamed request's connection is taken back first.
    /// </summary>
    public async Task<RuntimeApiReply> PostErrorInsteadAsync(StreamingResponseRequest request, LambdaError error, CancellationToken cancellationToken)
    {
        if (request.State.AnythingSent)
        {
            throw new InvalidOperationException("The streamed response already started; end it with the error trailers instead.");
        }

        await ReleaseAsync(request).ConfigureAwait(false);
        return await PostErrorAsync(request.RequestId, request.InvocationId, error, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Gives up on <paramref name="request"/>, if it still holds its connection, without reading a reply, and takes the
    /// connection back. A connection that carried nothing of it stays reusable; otherwise it is closed, which ends a send
    /// still in flight (the response is then marked broken), and it is let go once no send is in flight. Does nothing
    /// for a request that was released already (its reply read or <c>/error</c> posted instead).
    /// </summary>
    public ValueTask AbandonAsync(StreamingResponseRequest request) => request.IsReleased ? default : AbandonOpenAsync(request);

    private async ValueTask AbandonOpenAsync(StreamingResponseRequest request)
    {
        if (request.State.AnythingSent)
        {
            request.Connection.Close();
            await request.Body.DrainAsync().ConfigureAwait(false);
        }

        await ReleaseAsync(request).ConfigureAwait(false);
    }

    /// <summary>Throws <see cref="RuntimeApiFatalException"/> for a 5xx reply.</summary>
    private static RuntimeApiReply ThrowIfFatal(RuntimeApiReply reply, string request) =>
        reply.StatusCode >= 500
            ? throw new RuntimeApiFatalException($"The Runtime API answered {request} with {reply}: the execution environment is broken.")
            : reply;

    /// <summary>As <see cref="ThrowIfFatal(RuntimeApiReply, string)"/> for <paramref name="method"/> on <paramref name="path"/>, named only when it throws.</summary>
    private static RuntimeApiReply ThrowIfFatal(RuntimeApiReply reply, string method, ApiPath path) =>
        reply.StatusCode >= 500 ? ThrowIfFatal(reply, $"{method} /{path}") : reply;

    /// <summary>
    /// Closes the idle connection, and shuts down the one a streamed <c>/response</c> still holds (an invocation abandoned
    /// at shutdown): a send waiting on it fails, so its loop goes on to its <c>finally</c>, which releases the request.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_streaming is { IsReleased: false } open)
        {
            open.Connection.Close();
        }

        if (_idle is { } idle)
        {
            _idle = null;
            await idle.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Takes back the connection of a streamed request, if it still holds one.</summary>
    private ValueTask ReleaseAsync(StreamingResponseRequest request) =>
        request.Release() is { } connection ? ReleaseAsync(connection) : default;

    /// <summary>Takes back a connection after its request completed (or failed).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReleaseAsync(RuntimeApiConnection connection)
    {
        if (_reuseConnections && connection.IsReusable && _idle is null)
        {
            _idle = connection;
            return;
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }

    private ValueTask<RuntimeApiReply> PostErrorDocumentAsync(ApiPath path, LambdaError error, CancellationToken cancellationToken, string? invocationId = null) =>
        SendAsync("POST", path,
            $"Lambda-Runtime-Function-Error-Type: {ChunkFraming.HeaderValue(error.ErrorType)}\r\nContent-Type: application/json\r\n",
            error.ToJson(), cancellationToken, invocationId);

    private ValueTask<RuntimeApiReply> SendAsync(string method, ApiPath path, string? headers, ReadOnlyMemory<byte> body, CancellationToken cancellationToken, string? invocationId = null) =>
        SendAsync(method, path, RentHead(method, path, headers, method == "GET" ? null : body.Length, invocationId), pooledHead: true, body, cancellationToken);

    /// <summary>
    /// Sends <paramref name="head"/> and <paramref name="body"/> and reads the reply; a <paramref name="pooledHead"/>
    /// goes back to <see cref="ArrayPool{T}.Shared"/> once sent.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RuntimeApiReply> SendAsync(string method, ApiPath path, ArraySegment<byte> head, bool pooledHead, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        RuntimeApiConnection connection;
        try
        {
            connection = await AcquireAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            ReturnHead(head, pooledHead);
            throw;
        }

        try
        {
            try
            {
                if (body.IsEmpty)
                {
                    await connection.SendAsync(head, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    // Head and body in one write: a second small segment would otherwise wait on the peer's delayed ACK.
                    var segment = MemoryMarshal.TryGetArray(body, out var array) ? array : new ArraySegment<byte>(body.ToArray());
                    await connection.SendAsync(head, segment, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                // A reply sent before the request was taken (410 for a late answer, 413) says what happened; only
                // without one is the failed send itself the answer.
                if (await connection.TryReadEarlyReplyAsync(cancellationToken).ConfigureAwait(false) is { } early)
                {
                    return ThrowIfFatal(early, method, path);
                }

                throw;
            }
            finally
            {
                ReturnHead(head, pooledHead);
            }

            var reply = await connection.ReadReplyAsync(cancellationToken).ConfigureAwait(false);
            return ThrowIfFatal(reply, method, path);
        }
        catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException)
        {
            throw Broken(connection, $"{method} /{path}", ex);
        }
        finally
        {
            await ReleaseAsync(connection).ConfigureAwait(false);
        }
    }

    /// <summary>The connection failed mid-request: it is not reused, and the process must exit.</summary>
    private RuntimeApiFatalException Broken(RuntimeApiConnection connection, string request, Exception exception)
    {
        connection.Invalidate();
        return new RuntimeApiFatalException($"{request} to the Runtime API at {Endpoint} failed: {exception.Message}", exception);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RuntimeApiConnection> AcquireAsync(CancellationToken cancellationToken)
    {
        var idle = _idle;
        _idle = null;
        if (idle is not null)
        {
            if (idle.IsReusable)
            {
                return idle;
            }

            await idle.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            return await RuntimeApiConnection.OpenAsync(Endpoint, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new RuntimeApiFatalException($"Cannot connect to the Lambda Runtime API at {Endpoint}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Writes a request head into a buffer rented from <see cref="ArrayPool{T}.Shared"/>: request line, <c>Host</c>,
    /// <c>User-Agent</c>, <paramref name="headers"/> (complete lines), <c>Lambda-Runtime-Invocation-Id</c> when
    /// <paramref name="invocationId"/> is not empty, <c>Content-Length</c> when given, blank line.
    /// </summary>
    private ArraySegment<byte> RentHead(string method, ApiPath path, string? headers, long? contentLength, string? invocationId = null)
    {
        Span<char> digits = stackalloc char[20];
        var digitCount = 0;
        if (contentLength is { } length && !length.TryFormat(digits, out digitCount, provider: CultureInfo.InvariantCulture))
        {
            throw new ArgumentOutOfRangeException(nameof(contentLength));
        }

        const string ContentLength = "Content-Length: ";
        var echo = !string.IsNullOrEmpty(invocationId);
        var size = method.Length + 1 + _targetStart.Length + path.Length + _commonHeaders.Length + (headers?.Length ?? 0) +
            (echo ? InvocationIdHeader.Length + invocationId!.Length + 2 : 0) +
            (contentLength is null ? 0 : ContentLength.Length + digitCount + 2) + 2;
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        var at = 0;
        Append(buffer, ref at, method);
        Append(buffer, ref at, " ");
        Append(buffer, ref at, _targetStart);
        Append(buffer, ref at, path.Start);
        Append(buffer, ref at, path.RequestId);
        Append(buffer, ref at, path.End);
        Append(buffer, ref at, _commonHeaders);
        Append(buffer, ref at, headers);
        if (echo)
        {
            Append(buffer, ref at, InvocationIdHeader);
            Append(buffer, ref at, invocationId);
            Append(buffer, ref at, "\r\n");
        }

        if (contentLength is not null)
        {
            Append(buffer, ref at, ContentLength);
            at += Encoding.ASCII.GetBytes(digits[..digitCount], buffer.AsSpan(at));
            Append(buffer, ref at, "\r\n");
        }

        Append(buffer, ref at, "\r\n");
        return new ArraySegment<byte>(buffer, 0, at);
    }

    /// <summary>Gives a head from <see cref="RentHead"/> back to the pool.</summary>
    private static void ReturnHead(ArraySegment<byte> head, bool pooled)
    {
        if (pooled)
        {
            ArrayPool<byte>.Shared.Return(head.Array!);
        }
    }

    private static void Append(byte[] buffer, ref int at, string? text) =>
        at += text is null ? 0 : Encoding.ASCII.GetBytes(text, buffer.AsSpan(at));

    private static ApiPath InvocationPath(string requestId, string action) =>
        new("runtime/invocation/", Uri.EscapeDataString(requestId), action);

    /// <summary>
    /// A Runtime API path in parts (<c>runtime/invocation/</c>, the escaped request id, <c>/response</c>), so a head
    /// can be written without joining them into a string first.
    /// </summary>
    internal readonly record struct ApiPath(string Start, string? RequestId = null, string? End = null)
    {
        public int Length => Start.Length + (RequestId?.Length ?? 0) + (End?.Length ?? 0);

        public override string ToString() => Start + RequestId + End;
    }
}
