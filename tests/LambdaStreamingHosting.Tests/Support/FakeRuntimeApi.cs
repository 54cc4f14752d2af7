using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>
/// A small Lambda Runtime API on a loopback socket, written for the tests: it hands out the events the test queues,
/// reads answers byte by byte (chunk boundaries and trailers included) and replies as Lambda does. It shares no code
/// with the library, so it can judge the library's wire format.
/// </summary>
public sealed class FakeRuntimeApi : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Channel<FakeInvocation> _queue = Channel.CreateUnbounded<FakeInvocation>();
    private readonly ConcurrentDictionary<string, FakeInvocation> _invocations = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _acceptLoop;
    private int _connectionCount;
    private int _openConnections;
    private readonly List<TaskCompletionSource> _allClosedWaiters = [];
    private int _nextRequests;
    private readonly List<(int Count, TaskCompletionSource Waiter)> _nextWaiters = [];

    public FakeRuntimeApi(string pathPrefix = "")
    {
        PathPrefix = pathPrefix;
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    public string PathPrefix { get; }

    /// <summary>The value for AWS_LAMBDA_RUNTIME_API.</summary>
    public string Endpoint => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}{PathPrefix}";

    /// <summary>TCP connections accepted so far.</summary>
    public int ConnectionCount => Volatile.Read(ref _connectionCount);

    /// <summary>TCP connections accepted and not yet closed by the function.</summary>
    public int OpenConnections => Volatile.Read(ref _openConnections);

    /// <summary>Completes once every connection the function opened was closed by it (at once when none is open).</summary>
    public Task WaitForAllConnectionsClosedAsync()
    {
        lock (_allClosedWaiters)
        {
            if (OpenConnections == 0)
            {
                return Task.CompletedTask;
            }

            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _allClosedWaiters.Add(waiter);
            return waiter.Task;
        }
    }

    /// <summary><c>/next</c> requests received so far.</summary>
    public int NextRequests => Volatile.Read(ref _nextRequests);

    /// <summary>Completes when at least <paramref name="count"/> <c>/next</c> requests arrived.</summary>
    public Task WaitForNextRequestsAsync(int count)
    {
        lock (_nextWaiters)
        {
            if (NextRequests >= count)
            {
                return Task.CompletedTask;
            }

            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _nextWaiters.Add((count, waiter));
            return waiter.Task;
        }
    }

    /// <summary>The clock the default deadline of an event is set on (five minutes after its now); the server's own, in a test on a fake clock.</summary>
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>Status the next <c>/next</c> gets instead of an event (e.g. 500), when set.</summary>
    public int? NextStatus { get; set; }

    /// <summary>Whether answered invocations and request lines are kept (off for leak checks, so the fake holds nothing).</summary>
    public bool KeepHistory { get; set; } = true;

    /// <summary>Every request line received, in order.</summary>
    public ConcurrentQueue<string> RequestLines { get; } = new();

    /// <summary>Completes with the body of <c>POST /runtime/init/error</c>.</summary>
    public TaskCompletionSource<FakeRequest> InitError { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with <c>POST /runtime/restore/error</c>.</summary>
    public TaskCompletionSource<FakeRequest> RestoreError { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when <c>GET /runtime/restore/next</c> arrives; the reply waits for <see cref="Restore"/>.</summary>
    public TaskCompletionSource RestoreRequested { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Complete it to answer <c>/runtime/restore/next</c>.</summary>
    public TaskCompletionSource Restore { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Queues an event for <c>/next</c>.</summary>
    public FakeInvocation Enqueue(string eventJson, string? requestId = null, DateTimeOffset? deadline = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        var invocation = new FakeInvocation(requestId ?? Guid.NewGuid().ToString(), Encoding.UTF8.GetBytes(eventJson),
            deadline ?? Clock.GetUtcNow().AddMinutes(5), headers ?? new Dictionary<string, string>());
        _invocations[invocation.RequestId] = invocation;
        _queue.Writer.TryWrite(invocation);
        return invocation;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        _queue.Writer.TryComplete();
        try
        {
            await _acceptLoop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var socket = await _listener.AcceptSocketAsync(_stop.Token);
            socket.NoDelay = true;
            Interlocked.Increment(ref _connectionCount);
            Interlocked.Increment(ref _openConnections);
            lock (_connections)
            {
                _connections.Add(ServeAsync(socket));
            }
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var reader = PipeReader.Create(stream);
        try
        {
            while (true)
            {
                var request = await FakeRequest.ReadHeadAsync(reader, _stop.Token);
                if (request is null)
                {
                    return;
                }

                if (KeepHistory)
                {
                    RequestLines.Enqueue(request.Method + " " + request.Path);
                }

                if (!request.Path.StartsWith(PathPrefix + "/2018-06-01/", StringComparison.Ordinal))
                {
                    await request.ReadBodyAsync(reader, null, _stop.Token);
                    await ReplyAsync(stream, 404, """{"errorMessage":"unknown path"}""");
                    continue;
                }

                var path = request.Path[(PathPrefix.Length + "/2018-06-01/".Length)..];
                await HandleAsync(stream, reader, request, path);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ChannelClosedException or ObjectDisposedException)
        {
        }
        finally
        {
            await reader.CompleteAsync();
            ConnectionClosed();
        }
    }

    private void ConnectionClosed()
    {
        lock (_allClosedWaiters)
        {
            if (Interlocked.Decrement(ref _openConnections) == 0)
            {
                foreach (var waiter in _allClosedWaiters)
                {
                    waiter.TrySetResult();
                }

                _allClosedWaiters.Clear();
            }
        }
    }

    private async Task HandleAsync(NetworkStream stream, PipeReader reader, FakeRequest request, string path)
    {
        if (path == "runtime/invocation/next")
        {
            lock (_nextWaiters)
            {
                var count = Interlocked.Increment(ref _nextRequests);
                foreach (var waiter in _nextWaiters.Where(w => w.Count <= count).ToList())
                {
                    _nextWaiters.Remove(waiter);
                    waiter.Waiter.TrySetResult();
                }
            }
            if (NextStatus is { } status)
            {
                await ReplyAsync(stream, status, """{"errorMessage":"broken","errorType":"Runtime.Broken"}""");
                return;
            }

            var invocation = await NextEventAsync(reader);
            if (invocation is null)
            {
                return; // the function closed the connection while it waited
            }

            var head = new StringBuilder()
                .Append("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                .Append("Lambda-Runtime-Aws-Request-Id: ").Append(invocation.RequestId).Append("\r\n")
                .Append("Lambda-Runtime-Deadline-Ms: ").Append(invocation.Deadline.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)).Append("\r\n")
                .Append("Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:test\r\n");
            foreach (var (name, value) in invocation.Headers)
            {
                head.Append(name).Append(": ").Append(value).Append("\r\n");
            }

            head.Append("Content-Length: ").Append(invocation.Event.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n\r\n");
            await stream.WriteAsync((byte[])[.. Encoding.ASCII.GetBytes(head.ToString()), .. invocation.Event]);
            invocation.HandedOut.TrySetResult();
            return;
        }

        if (path == "runtime/init/error" || path == "runtime/restore/error")
        {
            await request.ReadBodyAsync(reader, null, _stop.Token);
            (path == "runtime/init/error" ? InitError : RestoreError).TrySetResult(request);
            await ReplyAsync(stream, 202, """{"status":"OK"}""");
            return;
        }

        if (path == "runtime/restore/next")
        {
            RestoreRequested.TrySetResult();
            await Restore.Task.WaitAsync(_stop.Token);
            await ReplyAsync(stream, 200, "");
            return;
        }

        var parts = path.Split('/');
        if (parts is ["runtime", "invocation", var id, var action] && _invocations.TryGetValue(Uri.UnescapeDataString(id), out var target))
        {
            var answer = new FakeAnswer(request, action);
            target.AnswerArrived(answer);
            if (target.BreaksConnection)
            {
                if (target.EarlyReplyStatus is { } early)
                {
                    await ReplyAsync(stream, early, """{"errorMessage":"refused early","errorType":"Test.Early"}""");
                }

                // Closing with the body unread resets the connection, as a crashed Runtime API would.
                throw new IOException("The test broke the Runtime API connection.");
            }

            await target.BodyGate.WaitAsync(_stop.Token);
            if (target.BreaksAfterHold)
            {
                // Closing with the body unread resets the connection while the function's send is still pending.
                throw new IOException("The test broke the Runtime API connection while the body was held.");
            }

            await request.ReadBodyAsync(reader, answer, _stop.Token);
            answer.Complete();
            if (target.CutsReply)
            {
                // Half a reply, then the connection closes, as a Runtime API that crashed while answering.
                await stream.WriteAsync("HTTP/1.1 202 Accepted\r\nContent-Le"u8.ToArray());
                throw new IOException("The test cut the reply short.");
            }

            if (!KeepHistory)
            {
                _invocations.TryRemove(target.RequestId, out _);
            }

            await ReplyAsync(stream, target.ReplyStatus, target.ReplyStatus == 202 ? """{"status":"OK"}""" : """{"errorMessage":"refused","errorType":"Test.Refused"}""");
            return;
        }

        await request.ReadBodyAsync(reader, null, _stop.Token);
        await ReplyAsync(stream, 400, """{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}""");
    }

    /// <summary>
    /// The next queued event, or <see langword="null"/> when the function closes the connection first (so a connection
    /// waiting on <c>/next</c> is seen closed, as every other one; the event stays queued).
    /// </summary>
    private async Task<FakeInvocation?> NextEventAsync(PipeReader reader)
    {
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        var next = _queue.Reader.ReadAsync(closed.Token).AsTask();
        var peer = reader.ReadAsync(_stop.Token).AsTask();
        if (await Task.WhenAny(next, peer) == peer)
        {
            var read = await peer;
            reader.AdvanceTo(read.Buffer.Start);
            if (read.IsCompleted && read.Buffer.IsEmpty)
            {
                await closed.CancelAsync();
                try
                {
                    return await next; // an event that won the race after all is served
                }
                catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                {
                    return null;
                }
            }

            // Bytes before the reply (a client does not pipeline /next): served with the event as before.
            return await next;
        }

        reader.CancelPendingRead();
        var pending = await peer;
        reader.AdvanceTo(pending.Buffer.Start);
        return await next;
    }

    private static async Task ReplyAsync(NetworkStream stream, int status, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var head = $"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {bytes.Length}\r\n\r\n";
        await stream.WriteAsync((byte[])[.. Encoding.ASCII.GetBytes(head), .. bytes]);
    }
}

/// <summary>An event queued for <c>/next</c> and what the function answered.</summary>
public sealed class FakeInvocation
{
    private readonly TaskCompletionSource<FakeAnswer> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal FakeInvocation(string requestId, byte[] eventBytes, DateTimeOffset deadline, IReadOnlyDictionary<string, string> headers)
    {
        RequestId = requestId;
        Event = eventBytes;
        Deadline = deadline;
        Headers = headers;
    }

    public string RequestId { get; }

    public byte[] Event { get; }

    public DateTimeOffset Deadline { get; }

    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The status the answer gets (202 unless the test wants a refusal).</summary>
    public int ReplyStatus { get; set; } = 202;

    /// <summary>Whether streamed body bytes are only counted, not kept (for very large bodies).</summary>
    public bool DiscardBody { get; set; }

    private TaskCompletionSource? _bodyHold;

    /// <summary>
    /// Makes the fake close the connection as soon as the answer's head arrived, without reading the body; with
    /// <paramref name="earlyReplyStatus"/> it replies first (as a Runtime API refusing a late or too large answer).
    /// </summary>
    public void BreakConnection(int? earlyReplyStatus = null)
    {
        BreaksConnection = true;
        EarlyReplyStatus = earlyReplyStatus;
    }

    internal bool BreaksConnection { get; private set; }

    internal int? EarlyReplyStatus { get; private set; }

    /// <summary>Makes the fake stop reading this invocation's answer after its head, as a stalled client would.</summary>
    public void HoldBody() => _bodyHold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lets the fake read the answer's body again.</summary>
    public void ReleaseBody() => _bodyHold?.TrySetResult();

    /// <summary>After <see cref="HoldBody"/>: closes the connection without reading the rest, as a Runtime API that went away.</summary>
    public void BreakHeldBody()
    {
        BreaksAfterHold = true;
        _bodyHold?.TrySetResult();
    }

    internal bool BreaksAfterHold { get; private set; }

    /// <summary>Makes the fake read the whole answer, then send half a reply and close the connection.</summary>
    public void CutReply() => CutsReply = true;

    internal bool CutsReply { get; private set; }

    internal Task BodyGate => _bodyHold?.Task ?? Task.CompletedTask;

    /// <summary>Completes when <c>/next</c> handed this event out.</summary>
    public TaskCompletionSource HandedOut { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the answer's request head arrived (its body may still be streaming).</summary>
    public Task<FakeAnswer> Answer => _answer.Task;

    internal void AnswerArrived(FakeAnswer answer)
    {
        answer.DiscardBody = DiscardBody;
        _answer.TrySetResult(answer);
    }
}
