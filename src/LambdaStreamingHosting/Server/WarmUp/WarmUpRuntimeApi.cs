using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LambdaStreamingHosting.Server.WarmUp;

/// <summary>How one warm-up invocation was answered: its status, or the Lambda error it ended with.</summary>
internal readonly record struct WarmUpAnswer(int Index, int? StatusCode, string? ErrorType)
{
    public bool Failed => ErrorType is not null || StatusCode is null or >= 500;

    public override string ToString() => ErrorType is { } error
        ? "error " + error
        : StatusCode?.ToString(CultureInfo.InvariantCulture) ?? "no status";
}

/// <summary>
/// The Runtime API a warm-up loop polls: a listener on a loopback port of this process that hands out the warm-up
/// events and takes their answers (buffered, streamed or <c>/error</c>) without keeping them, only their status or error
/// type. The loop talks to it through its own <c>RuntimeApiClient</c>, so the whole answer path runs (the request
/// heads, chunk framing and trailers, the socket sends), but the function's real Runtime API never sees any of it.
/// Requests come from our own client only; anything it cannot read closes the connection.
/// </summary>
internal sealed class WarmUpRuntimeApi : IAsyncDisposable
{
    private const string ErrorTypeHeader = "Lambda-Runtime-Function-Error-Type";
    private const int KeptAnswerBytes = 4096;
    private static readonly byte[] Accepted = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}"u8.ToArray();
    private static readonly byte[] NotFound = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"u8.ToArray();

    private readonly Socket _listener;
    private readonly IReadOnlyList<WarmUpEvent> _events;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _connections = [];
    private readonly WarmUpAnswer?[] _answers;
    private readonly TaskCompletionSource _allAnswered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _accepting;
    private int _handedOut;
    private int _answered;

    /// <param name="events">The events, handed out in order.</param>
    /// <param name="timeout">Each invocation's time (its <c>Lambda-Runtime-Deadline-Ms</c>).</param>
    /// <param name="time">The server's clock, on which the deadlines are read.</param>
    public WarmUpRuntimeApi(IReadOnlyList<WarmUpEvent> events, TimeSpan timeout, TimeProvider time)
    {
        _events = events;
        _timeout = timeout;
        _time = time;
        _answers = new WarmUpAnswer?[events.Count];
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(4);
        Endpoint = "127.0.0.1:" + ((IPEndPoint)_listener.LocalEndPoint!).Port.ToString(CultureInfo.InvariantCulture);
        if (events.Count == 0)
        {
            _allAnswered.TrySetResult();
        }

        _accepting = AcceptAsync();
    }

    /// <summary>The value a loop's client needs (<c>host:port</c>).</summary>
    public string Endpoint { get; }

    /// <summary>Completes when every event was answered.</summary>
    public Task AllAnswered => _allAnswered.Task;

    /// <summary>The answers so far, by event; <see langword="null"/> where none came.</summary>
    public IReadOnlyList<WarmUpAnswer?> Answers => _answers;

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll([_accepting, .. connections]).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            socket.NoDelay = true;
            lock (_connections)
            {
                _connections.Add(ServeAsync(socket));
            }
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: true);
        var reader = new RequestReader(stream);
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                var head = await reader.ReadHeadAsync(_stopping.Token).ConfigureAwait(false);
                if (head is null)
                {
                    return;
                }

                var body = await reader.ReadBodyAsync(head, KeptAnswerBytes, _stopping.Token).ConfigureAwait(false);
                var reply = Handle(head, body);
                if (reply is null)
                {
                    // No event left: the loop waits here until the runner stops it.
                    await Task.Delay(Timeout.Infinite, _stopping.Token).ConfigureAwait(false);
                    return;
                }

                await stream.WriteAsync(reply, _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or InvalidDataException or ObjectDisposedException)
        {
            // The runner stopped, or the client gave up on the connection: either way it is over.
        }
    }

    /// <summary>The reply to a request; <see langword="null"/> for a <c>/next</c> when no event is left.</summary>
    private byte[]? Handle(RequestHead head, RequestBody body)
    {
        const string Next = "runtime/invocation/next";
        const string Invocation = "runtime/invocation/";
        var path = head.Target;
        var api = path.IndexOf("/runtime/", StringComparison.Ordinal);
        path = api < 0 ? path : path[(api + 1)..];
        if (head.Method == "GET" && path == Next)
        {
            var index = _handedOut;
            if (index >= _events.Count)
            {
                return null;
            }

            _handedOut++;
            return EventReply(index);
        }

        if (head.Method == "POST" && path.StartsWith(Invocation, StringComparison.Ordinal))
        {
            var rest = path[Invocation.Length..];
            var slash = rest.LastIndexOf('/');
            if (slash > 0 && TryParseIndex(rest[..slash], out var index) && index < _answers.Length)
            {
                var action = rest[(slash + 1)..];
                if (action == "response")
                {
                    var errorType = body.Trailers.GetValueOrDefault(ErrorTypeHeader);
                    var kept = body.Start.AsSpan();
                    var preludeEnd = kept.IndexOf((byte)0);
                    Answer(new WarmUpAnswer(index, WarmUpEvents.ReadStatusCode(preludeEnd < 0 ? kept : kept[..preludeEnd]), errorType));
                    return Accepted;
                }

                if (action == "error")
                {
                    Answer(new WarmUpAnswer(index, null, head.Headers.GetValueOrDefault(ErrorTypeHeader) ?? "unknown"));
                    return Accepted;
                }
            }
        }

        return NotFound;
    }

    private void Answer(WarmUpAnswer answer)
    {
        if (_answers[answer.Index] is not null)
        {
            return;
        }

        _answers[answer.Index] = answer;
        if (Interlocked.Increment(ref _answered) == _answers.Length)
        {
            _allAnswered.TrySetResult();
        }
    }

    private byte[] EventReply(int index)
    {
        var body = _events[index].Event;
        var deadline = (_time.GetUtcNow() + _timeout).ToUnixTimeMilliseconds();
        var head = string.Create(CultureInfo.InvariantCulture,
            $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {RequestId(index)}\r\n" +
            $"Lambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:warm-up\r\n" +
            $"Content-Length: {body.Length}\r\n\r\n");
        var reply = new byte[Encoding.ASCII.GetByteCount(head) + body.Length];
        var written = Encoding.ASCII.GetBytes(head, reply);
        body.CopyTo(reply, written);
        return reply;
    }

    /// <summary>The request id of the warm-up invocation at <paramref name="index"/> (what <c>AwsRequestId</c> and <c>TraceIdentifier</c> show).</summary>
    public static string RequestId(int index) => "warm-up-" + (index + 1).ToString(CultureInfo.InvariantCulture);

    private static bool TryParseIndex(string requestId, out int index)
    {
        index = 0;
        return requestId.StartsWith("warm-up-", StringComparison.Ordinal)
            && int.TryParse(requestId.AsSpan("warm-up-".Length), NumberStyles.None, CultureInfo.InvariantCulture, out index)
            && --index >= 0;
    }

    private sealed record RequestHead(string Method, string Target, Dictionary<string, string> Headers);

    private sealed record RequestBody(byte[] Start, Dictionary<string, string> Trailers);

    /// <summary>Reads HTTP/1.1 requests (heads, <c>Content-Length</c> or chunked bodies with trailers) from a stream.</summary>
    private sealed class RequestReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[16 * 1024];
        private int _start;
        private int _end;

        public async Task<RequestHead?> ReadHeadAsync(CancellationToken cancellationToken)
        {
            var requestLine = await ReadLineAsync(cancellationToken, endOfStreamAllowed: true).ConfigureAwait(false);
            if (requestLine is null)
            {
                return null;
            }

            var parts = requestLine.Split(' ');
            if (parts.Length != 3)
            {
                throw new InvalidDataException("Not an HTTP request line: " + requestLine);
            }

            return new RequestHead(parts[0], parts[1], await ReadFieldsAsync(cancellationToken).ConfigureAwait(false));
        }

        public async Task<RequestBody> ReadBodyAsync(RequestHead head, int keep, CancellationToken cancellationToken)
        {
            var kept = new MemoryStream();
            if (head.Headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                while (true)
                {
                    var sizeLine = await ReadLineAsync(cancellationToken).ConfigureAwait(false) ?? "";
                    var extension = sizeLine.IndexOf(';', StringComparison.Ordinal);
                    if (!long.TryParse(extension < 0 ? sizeLine : sizeLine[..extension], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size))
                    {
                        throw new InvalidDataException("Not a chunk size: " + sizeLine);
                    }

                    if (size == 0)
                    {
                        return new RequestBody(kept.ToArray(), await ReadFieldsAsync(cancellationToken).ConfigureAwait(false));
                    }

                    await ReadDataAsync(size, kept, keep, cancellationToken).ConfigureAwait(false);
                    if (await ReadLineAsync(cancellationToken).ConfigureAwait(false) is not "")
                    {
                        throw new InvalidDataException("A chunk does not end with CRLF.");
                    }
                }
            }

            var length = head.Headers.TryGetValue("Content-Length", out var value) && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
            await ReadDataAsync(length, kept, keep, cancellationToken).ConfigureAwait(false);
            return new RequestBody(kept.ToArray(), []);
        }

        private async Task<Dictionary<string, string>> ReadFieldsAsync(CancellationToken cancellationToken)
        {
            var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            while (await ReadLineAsync(cancellationToken).ConfigureAwait(false) is { Length: > 0 } line)
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    fields[line[..colon].Trim()] = line[(colon + 1)..].Trim();
                }
            }

            return fields;
        }

        private async Task ReadDataAsync(long length, MemoryStream kept, int keep, CancellationToken cancellationToken)
        {
            while (length > 0)
            {
                if (_start == _end && !await FillAsync(cancellationToken).ConfigureAwait(false))
                {
                    throw new InvalidDataException("The connection closed inside a body.");
                }

                var take = (int)Math.Min(length, _end - _start);
                var room = (int)Math.Max(0, Math.Min(take, keep - kept.Length));
                kept.Write(_buffer, _start, room);
                _start += take;
                length -= take;
            }
        }

        private async Task<string?> ReadLineAsync(CancellationToken cancellationToken, bool endOfStreamAllowed = false)
        {
            var line = new StringBuilder();
            while (true)
            {
                if (_start == _end && !await FillAsync(cancellationToken).ConfigureAwait(false))
                {
                    return endOfStreamAllowed && line.Length == 0 ? null : throw new InvalidDataException("The connection closed inside a line.");
                }

                var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                var end = newline < 0 ? _end : newline;
                line.Append(Encoding.Latin1.GetString(_buffer, _start, end - _start));
                _start = newline < 0 ? _end : newline + 1;
                if (newline >= 0)
                {
                    return line.ToString().TrimEnd('\r');
                }

                if (line.Length > 64 * 1024)
                {
                    throw new InvalidDataException("A line longer than 64 KiB.");
                }
            }
        }

        private async Task<bool> FillAsync(CancellationToken cancellationToken)
        {
            _start = 0;
            _end = await stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
            return _end > 0;
        }
    }
}
