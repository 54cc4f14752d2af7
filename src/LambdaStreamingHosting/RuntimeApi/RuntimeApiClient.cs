using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// Our client for the Lambda Runtime API (2018-06-01): <c>/next</c> without timeout, buffered and streamed
/// <c>/response</c>, <c>/error</c>, <c>/init/error</c> and the SnapStart restore calls. One client serves one
/// invocation loop, so requests never overlap; it keeps its keep-alive connection between calls (see
/// docs/design.md for the measured cost of reconnecting). A 500 reply, a refused connection or a broken reply
/// throw <see cref="RuntimeApiFatalException"/>: the process must exit.
/// </summary>
internal sealed class RuntimeApiClient : IAsyncDisposable
{
    private const string UserAgent = "LambdaStreamingHosting/1.0";
    private readonly bool _reuseConnections;
    private RuntimeApiConnection? _idle;

    public RuntimeApiClient(RuntimeApiEndpoint endpoint, bool reuseConnections = true)
    {
        Endpoint = endpoint;
        _reuseConnections = reuseConnections;
    }

    public RuntimeApiEndpoint Endpoint { get; }

    /// <summary>Waits, without timeout, for the next invocation.</summary>
    public async Task<Invocation> NextAsync(CancellationToken cancellationToken)
    {
        var reply = await SendAsync("GET", "runtime/invocation/next", null, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        if (reply.StatusCode != 200)
        {
            throw new RuntimeApiFatalException($"GET /runtime/invocation/next answered {reply}.");
        }

        return Invocation.FromReply(reply);
    }

    /// <summary>SnapStart: waits until the environment was restored from its snapshot.</summary>
    public Task<RuntimeApiReply> RestoreNextAsync(CancellationToken cancellationToken) =>
        SendAsync("GET", "runtime/restore/next", null, ReadOnlyMemory<byte>.Empty, cancellationToken);

    /// <summary>Posts a buffered response document.</summary>
    public Task<RuntimeApiReply> PostResponseAsync(string requestId, ReadOnlyMemory<byte> document, CancellationToken cancellationToken) =>
        SendAsync("POST", InvocationPath(requestId, "response"), "Content-Type: application/json\r\n", document, cancellationToken);

    /// <summary>Reports that an invocation failed.</summary>
    public Task<RuntimeApiReply> PostErrorAsync(string requestId, LambdaError error, CancellationToken cancellationToken) =>
        PostErrorDocumentAsync(InvocationPath(requestId, "error"), error, cancellationToken);

    /// <summary>Reports that the init phase failed; the process must exit afterwards.</summary>
    public Task<RuntimeApiReply> PostInitErrorAsync(LambdaError error, CancellationToken cancellationToken) =>
        PostErrorDocumentAsync("runtime/init/error", error, cancellationToken);

    /// <summary>SnapStart: reports that the after-restore hooks failed.</summary>
    public Task<RuntimeApiReply> PostRestoreErrorAsync(LambdaError error, CancellationToken cancellationToken) =>
        PostErrorDocumentAsync("runtime/restore/error", error, cancellationToken);

    /// <summary>
    /// Starts a streamed <c>/response</c>. Nothing is sent yet: the request head goes out with the first chunk. The
    /// connection belongs to the returned request until its reply was read.
    /// </summary>
    public async Task<StreamingResponseRequest> BeginStreamingResponseAsync(string requestId, CancellationToken cancellationToken)
    {
        var connection = await AcquireAsync(cancellationToken).ConfigureAwait(false);
        var head = Head("POST", InvocationPath(requestId, "response"),
            "Lambda-Runtime-Function-Response-Mode: streaming\r\n" +
            "Transfer-Encoding: chunked\r\n" +
            "Content-Type: application/vnd.awslambda.http-integration-response\r\n" +
            $"Trailer: {ChunkFraming.ErrorTypeTrailer}, {ChunkFraming.ErrorBodyTrailer}\r\n",
            contentLength: null);
        return new StreamingResponseRequest(this, connection, requestId, head);
    }

    /// <summary>Takes back a connection after its request completed (or failed).</summary>
    internal async ValueTask ReleaseAsync(RuntimeApiConnection connection)
    {
        if (_reuseConnections && connection.IsReusable && _idle is null)
        {
            _idle = connection;
            return;
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Throws <see cref="RuntimeApiFatalException"/> for a 500 reply.</summary>
    internal static RuntimeApiReply ThrowIfFatal(RuntimeApiReply reply, string request) =>
        reply.StatusCode >= 500
            ? throw new RuntimeApiFatalException($"The Runtime API answered {request} with {reply}: the execution environment is broken.")
            : reply;

    public async ValueTask DisposeAsync()
    {
        if (_idle is { } idle)
        {
            _idle = null;
            await idle.DisposeAsync().ConfigureAwait(false);
        }
    }

    private Task<RuntimeApiReply> PostErrorDocumentAsync(string path, LambdaError error, CancellationToken cancellationToken) =>
        SendAsync("POST", path,
            $"Lambda-Runtime-Function-Error-Type: {ChunkFraming.HeaderValue(error.ErrorType)}\r\nContent-Type: application/json\r\n",
            error.ToJson(), cancellationToken);

    private async Task<RuntimeApiReply> SendAsync(string method, string path, string? headers, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var connection = await AcquireAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var head = Head(method, path, headers, method == "GET" ? null : body.Length);
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
                    await connection.SendAsync([head, segment], cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                // A reply sent before the request was taken (410 for a late answer, 413) says what happened; only
                // without one is the failed send itself the answer.
                var early = await connection.TryReadEarlyReplyAsync(cancellationToken).ConfigureAwait(false);
                if (early is null)
                {
                    throw;
                }

                return ThrowIfFatal(early, $"{method} /{path}");
            }

            var reply = await connection.ReadReplyAsync(cancellationToken).ConfigureAwait(false);
            return ThrowIfFatal(reply, $"{method} /{path}");
        }
        catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException)
        {
            connection.Invalidate();
            throw new RuntimeApiFatalException($"{method} /{path} to the Runtime API at {Endpoint} failed: {ex.Message}", ex);
        }
        finally
        {
            await ReleaseAsync(connection).ConfigureAwait(false);
        }
    }

    private async Task<RuntimeApiConnection> AcquireAsync(CancellationToken cancellationToken)
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

    private byte[] Head(string method, string path, string? headers, long? contentLength)
    {
        var text = new StringBuilder(256)
            .Append(method).Append(' ').Append(Endpoint.Target(path)).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(Endpoint.HostHeader).Append("\r\n")
            .Append("User-Agent: ").Append(UserAgent).Append("\r\n")
            .Append(headers);
        if (contentLength is { } length)
        {
            text.Append("Content-Length: ").Append(length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(text.Append("\r\n").ToString());
    }

    private static string InvocationPath(string requestId, string action) =>
        "runtime/invocation/" + Uri.EscapeDataString(requestId) + "/" + action;
}
