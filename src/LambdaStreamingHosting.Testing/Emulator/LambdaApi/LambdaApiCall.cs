using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// One <c>Invoke</c> or <c>InvokeWithResponseStream</c> call waiting for its invocation's answer. <c>Invoke</c> collects
/// the answer and returns it whole; <c>InvokeWithResponseStream</c> sends each piece of the function's stream as a
/// <c>PayloadChunk</c> event as it arrives (the bytes untouched: an HTTP-streaming function's prelude, 8 NUL bytes and
/// body), and ends with an <c>InvokeComplete</c> event that carries the function's error, if any, and the log.
/// An <c>Event</c> call has no caller left to answer (<see cref="Client"/> is null): the answer is dropped.
/// </summary>
internal sealed class LambdaApiCall(HttpContext? client, bool streams, string executedVersion)
{
    public const string EventStreamContentType = "application/vnd.amazon.eventstream";
    private static readonly JsonWriterOptions CompactJson = new() { Indented = false };

    private readonly ArrayBufferWriter<byte> _answer = new();
    private bool _started;
    private bool _pending;
    private bool _gone;

    /// <summary>Whether this is <c>InvokeWithResponseStream</c>.</summary>
    public bool Streams { get; } = streams;

    /// <summary>The caller's request; <see langword="null"/> for an <c>Event</c> call (answered 202 already).</summary>
    public HttpContext? Client { get; } = client;

    /// <summary>The version the call ran, for <c>X-Amz-Executed-Version</c>.</summary>
    public string ExecutedVersion { get; } = executedVersion;

    /// <summary>Forwards (streaming) or collects (<c>Invoke</c>) a piece of the function's streamed answer.</summary>
    public async Task WriteAsync(EmulatedInvocation invocation, ReadOnlySequence<byte> data, CancellationToken cancellationToken)
    {
        if (Client is null)
        {
            return;
        }

        if (!Streams)
        {
            foreach (var segment in data)
            {
                _answer.Write(segment.Span);
            }

            return;
        }

        if (_gone)
        {
            return;
        }

        try
        {
            await StartAsync();
            EventStreamMessage.WriteEvent(Client.Response.BodyWriter, "PayloadChunk", "application/octet-stream", data);
            _pending = true;
            invocation.CountResponseBytes(data.Length);
        }
        catch (Exception ex) when (IsClientGone(ex, cancellationToken))
        {
            MarkGone(invocation);
        }
    }

    /// <summary>Sends the events written so far (streaming), waiting while the caller is behind.</summary>
    public async Task FlushAsync(EmulatedInvocation invocation, CancellationToken cancellationToken)
    {
        if (!_pending || _gone || Client is null)
        {
            return;
        }

        _pending = false;
        try
        {
            var result = await Client.Response.BodyWriter.FlushAsync(cancellationToken);
            _gone |= result.IsCompleted;
            invocation.ReportSent(); // the timeline page's mark
        }
        catch (Exception ex) when (IsClientGone(ex, cancellationToken))
        {
            _gone = true;
        }
    }

    /// <summary>Keeps a buffered answer, returned whole (<c>Invoke</c>) or as one <c>PayloadChunk</c> at the end.</summary>
    public void KeepBuffered(byte[] answer) => _answer.Write(answer);

    /// <summary>Answers the caller once the invocation finished: the payload or the function's error, and the log.</summary>
    public async Task CompleteAsync(EmulatedInvocation invocation, InvocationFailure? failure, CancellationToken cancellationToken)
    {
        if (Client is null || _gone)
        {
            return;
        }

        var log = invocation.Log?.ToBase64(invocation.RequestId, ExecutedVersion, invocation.Elapsed);
        try
        {
            if (Streams)
            {
                await StartAsync();
                var writer = Client.Response.BodyWriter;
                if (_answer.WrittenCount > 0)
                {
                    EventStreamMessage.WriteEvent(writer, "PayloadChunk", "application/octet-stream", new ReadOnlySequence<byte>(_answer.WrittenMemory));
                    invocation.CountResponseBytes(_answer.WrittenCount);
                }

                EventStreamMessage.WriteEvent(writer, "InvokeComplete", "application/json", new ReadOnlySequence<byte>(InvokeComplete(failure, log)));
                await writer.FlushAsync(cancellationToken);
                return;
            }

            var response = Client.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.Headers["X-Amz-Executed-Version"] = ExecutedVersion;
            response.ContentType = "application/json";
            if (log is not null)
            {
                response.Headers["X-Amz-Log-Result"] = log;
            }

            ReadOnlyMemory<byte> payload = _answer.WrittenMemory;
            if (failure is not null)
            {
                response.Headers["X-Amz-Function-Error"] = "Unhandled";
                payload = failure.ErrorDocument ?? ErrorDocument(failure);
            }

            response.ContentLength = payload.Length;
            invocation.CountResponseBytes(payload.Length);
            await response.Body.WriteAsync(payload, cancellationToken);
        }
        catch (Exception ex) when (IsClientGone(ex, cancellationToken))
        {
            MarkGone(invocation);
        }
    }

    /// <summary>The <c>{"errorType":…,"errorMessage":…}</c> document Lambda returns for a failure the function did not describe itself.</summary>
    public static byte[] ErrorDocument(InvocationFailure failure)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, CompactJson))
        {
            json.WriteStartObject();
            json.WriteString("errorType", failure.ErrorType);
            json.WriteString("errorMessage", failure.Message);
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static byte[] InvokeComplete(InvocationFailure? failure, string? log)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, CompactJson))
        {
            json.WriteStartObject();
            if (failure is not null)
            {
                json.WriteString("ErrorCode", failure.ErrorType);
                json.WriteString("ErrorDetails", failure.Message);
            }

            if (log is not null)
            {
                json.WriteString("LogResult", log);
            }

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private async Task StartAsync()
    {
        if (_started)
        {
            return;
        }

        _started = true;
        var response = Client!.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = EventStreamContentType;
        response.Headers["X-Amz-Executed-Version"] = ExecutedVersion;
        await response.StartAsync();
    }

    private void MarkGone(EmulatedInvocation invocation)
    {
        _gone = true;
        invocation.ClientDisconnected = true;
    }

    private static bool IsClientGone(Exception ex, CancellationToken cancellationToken) =>
        ex is IOException or ConnectionAbortedException or ConnectionResetException or ObjectDisposedException ||
        (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);
}
