using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Testing;

/// <summary>What reading an answer led to: the invocation's failure (if any) and the Runtime API's reply.</summary>
/// <param name="Failure">Why the invocation failed; <see langword="null"/> on success.</param>
/// <param name="ReplyStatus">Status of the reply to the function: 202, or an error such as 413.</param>
/// <param name="ReplyErrorType">The error reply's <c>errorType</c>.</param>
/// <param name="ReplyMessage">The error reply's <c>errorMessage</c>.</param>
/// <param name="Crashed">The function's connection broke mid-answer: no reply is possible and the environment is reset.</param>
/// <param name="Buffered">An accepted buffered answer, written to the client after the function got its 202.</param>
internal sealed record AnswerOutcome(InvocationFailure? Failure, int ReplyStatus = StatusCodes.Status202Accepted, string? ReplyErrorType = null, string? ReplyMessage = null, bool Crashed = false, ClientAnswer? Buffered = null);

/// <summary>
/// Reads a function's <c>POST /response</c>: a buffered JSON document, or a stream (JSON prelude, 8 NUL bytes, body,
/// optional error trailers) forwarded to the client as it arrives. Checks the limits and the protocol.
/// </summary>
internal sealed class AnswerReader(HttpContext runtime, EmulatedInvocation invocation, LambdaEmulatorOptions options, CancellationToken cancellationToken)
{
    public const string IntegrationContentType = "application/vnd.awslambda.http-integration-response";
    public const string ErrorTypeTrailer = "Lambda-Runtime-Function-Error-Type";
    public const string ErrorBodyTrailer = "Lambda-Runtime-Function-Error-Body";
    private const int MaxPreludeBytes = 1024 * 1024;
    private static readonly byte[] Delimiter = new byte[8];

    private long _streamedBytes; // prelude, delimiter and body so far
    private bool _clientStarted;

    private FrontDoor Door => invocation.Door;

    /// <summary>
    /// Reads a streamed answer: with the integration content type, its prelude (the client's status and headers) and
    /// delimiter first; then the body, forwarded to the client as it arrives; then the trailers, which may report an
    /// error.
    /// </summary>
    public async Task<AnswerOutcome> ReadStreamedAsync()
    {
        invocation.Streamed = true;
        if (invocation.ApiCall is { } call)
        {
            return await ReadRawStreamAsync(call);
        }

        if (!Door.Streams)
        {
            await DrainAsync();
            var message = $"The function streamed its answer (Lambda-Runtime-Function-Response-Mode: streaming), but the {Door.Describe()} expects one buffered JSON answer. {Door.BufferedHint}";
            invocation.Violation(message);
            return new AnswerOutcome(new InvocationFailure(EmulatorErrorTypes.InvalidResponseMode, message));
        }

        var client = new ClientStream(invocation, options.BandwidthShaping
            ? new BandwidthShaper(options.UncappedResponseBytes, options.ThrottledBytesPerSecond, options.TimeProvider)
            : null);
        try
        {
            if (MediaTypeIs(runtime.Request.ContentType, IntegrationContentType))
            {
                if (await ReadPreludeAsync() is { } refused)
                {
                    return refused;
                }

                // The status and headers follow the prelude at once, before any body.
                await client.StartAsync(cancellationToken);
                _clientStarted = true;
            }

            if (await ForwardBodyAsync(client) is { } cut)
            {
                return cut;
            }
        }
        catch (Exception ex) when (IsStreamReadFailure(ex))
        {
            return StreamReadFailed(ex);
        }

        if (!_clientStarted)
        {
            StartVerbatim();
        }

        // A failure cuts the client's connection, and only what was flushed reaches it; a clean end sends the rest.
        var ending = ReadTrailers();
        if (ending is not null)
        {
            await FlushBeforeCutAsync(client);
        }

        return new AnswerOutcome(ending);
    }

    /// <summary>
    /// Reads a streamed answer for a Lambda API call: its bytes as they arrive (prelude, delimiter and body alike: the
    /// Lambda API passes them through untouched) go to the call, then the trailers, which may report an error.
    /// </summary>
    private async Task<AnswerOutcome> ReadRawStreamAsync(LambdaApiCall call)
    {
        var reader = runtime.Request.BodyReader;
        var limit = call.Streams ? options.MaxStreamedResponseBytes : options.MaxBufferedResponseBytes;
        try
        {
            while (true)
            {
                if (!reader.TryRead(out var result))
                {
                    await call.FlushAsync(invocation, cancellationToken);
                    result = await reader.ReadAsync(cancellationToken);
                }

                var buffer = result.Buffer;
                _streamedBytes += buffer.Length;
                if (_streamedBytes > limit)
                {
                    reader.AdvanceTo(buffer.End);
                    await DrainAsync();
                    var message = call.Streams
                        ? $"The streamed response exceeded {limit} bytes and was cut."
                        : $"The streamed response exceeded {limit} bytes, the most Invoke returns (InvokeWithResponseStream returns up to {options.MaxStreamedResponseBytes}).";
                    return new AnswerOutcome(new InvocationFailure(EmulatorErrorTypes.ResponseSizeTooLarge, message),
                        StatusCodes.Status413RequestEntityTooLarge, RuntimeApiReplies.RequestEntityTooLarge, message);
                }

                if (!buffer.IsEmpty)
                {
                    await call.WriteAsync(invocation, buffer, cancellationToken);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            await call.FlushAsync(invocation, cancellationToken);
        }
        catch (Exception ex) when (IsStreamReadFailure(ex))
        {
            return StreamReadFailed(ex);
        }

        return new AnswerOutcome(ReadTrailers());
    }

    /// <summary>
    /// Reads the JSON prelude up to its delimiter (8 NUL bytes) and applies it to the client's response, leaving what
    /// follows it unread; the outcome when the door refuses the prelude or the delimiter does not come.
    /// </summary>
    private async Task<AnswerOutcome?> ReadPreludeAsync()
    {
        var reader = runtime.Request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (TryFindDelimiter(buffer, out var prelude, out var afterDelimiter))
            {
                _streamedBytes += prelude.Length + Delimiter.Length;
                var refused = Door.ApplyPrelude(invocation, ParsePrelude(prelude));
                if (refused is not null)
                {
                    reader.AdvanceTo(buffer.End);
                    await DrainAsync();
                    return new AnswerOutcome(refused);
                }

                reader.AdvanceTo(afterDelimiter);
                return null;
            }

            if (buffer.Length > MaxPreludeBytes || result.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                await DrainAsync();
                var message = result.IsCompleted
                    ? $"The stream ended before the prelude's delimiter (8 NUL bytes) after {buffer.Length} bytes: a response with the {IntegrationContentType} content type must start with its JSON prelude and the delimiter, even when it has no body."
                    : $"No prelude delimiter (8 NUL bytes) in the first {MaxPreludeBytes} bytes of the stream.";
                invocation.Violation(message);
                return new AnswerOutcome(new InvocationFailure(EmulatorErrorTypes.ProtocolViolation, message));
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// Forwards the body to the client until the stream ends (a stream without a prelude starts the client's response
    /// with its first bytes); the outcome when it grows past <see cref="LambdaEmulatorOptions.MaxStreamedResponseBytes"/>.
    /// </summary>
    private async Task<AnswerOutcome?> ForwardBodyAsync(ClientStream client)
    {
        var reader = runtime.Request.BodyReader;
        while (true)
        {
            var result = await ReadNextAsync(reader, client);
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                if (!_clientStarted)
                {
                    StartVerbatim();
                    await client.StartAsync(cancellationToken);
                    _clientStarted = true;
                }

                _streamedBytes += buffer.Length;
                if (_streamedBytes > options.MaxStreamedResponseBytes)
                {
                    reader.AdvanceTo(buffer.End);
                    await client.FlushAsync(cancellationToken);
                    var message = $"The streamed response exceeded {options.MaxStreamedResponseBytes} bytes and was cut.";
                    return new AnswerOutcome(new InvocationFailure(EmulatorErrorTypes.ResponseSizeTooLarge, message),
                        StatusCodes.Status413RequestEntityTooLarge, RuntimeApiReplies.RequestEntityTooLarge, message);
                }

                await client.WriteAsync(buffer, cancellationToken);
            }

            reader.AdvanceTo(buffer.End);
            if (result.IsCompleted)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// The next part of the stream. The client is flushed only when none is at hand: what arrived together leaves
    /// together, and a clean end leaves the last bytes to the response's end (a small answer reaches the client in one
    /// send).
    /// </summary>
    private async ValueTask<ReadResult> ReadNextAsync(PipeReader reader, ClientStream client)
    {
        bool available;
        ReadResult result;
        try
        {
            available = reader.TryRead(out result);
        }
        catch
        {
            await FlushBeforeCutAsync(client); // a malformed or broken stream: what came before it is delivered
            throw;
        }

        if (available)
        {
            return result;
        }

        await client.FlushAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken);
    }

    public async Task<AnswerOutcome> ReadBufferedAsync()
    {
        byte[] body;
        try
        {
            var limit = options.MaxBufferedResponseBytes;
            body = await ReadAllAsync(limit);
            if (body.Length > limit)
            {
                var message = $"The buffered response is larger than {limit} bytes.";
                return new AnswerOutcome(new InvocationFailure(EmulatorErrorTypes.ResponseSizeTooLarge, message),
                    StatusCodes.Status413RequestEntityTooLarge, RuntimeApiReplies.RequestEntityTooLarge, message);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Interrupted();
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or BadHttpRequestException)
        {
            return Interrupted();
        }

        if (Door.Streams && !Door.TakesEitherAnswerMode)
        {
            var message = $"The function answered buffered (no Lambda-Runtime-Function-Response-Mode: streaming header), but the {Door.Describe()} streams: the client gets the JSON document verbatim. {Door.StreamingHint}";
            if (invocation.Violation(message))
            {
                return new AnswerOutcome(new InvocationFailure(EmulatorErrorTypes.ProtocolViolation, message));
            }

            var verbatim = new ClientAnswer(invocation, streaming: false) { Body = body };
            if (runtime.Request.ContentType is { Length: > 0 } contentType)
            {
                verbatim.Headers.Add(new("Content-Type", contentType));
            }

            return new AnswerOutcome(null, Buffered: verbatim);
        }

        var answer = Door.ReadBuffered(invocation, body);
        return answer.Failure is { } refused ? new AnswerOutcome(refused) : new AnswerOutcome(null, Buffered: answer);
    }

    /// <summary>Sends what the client has not got yet before its connection is cut (gives up if the answer is cancelled).</summary>
    private async Task FlushBeforeCutAsync(ClientStream client)
    {
        try
        {
            await client.FlushAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static bool TryFindDelimiter(ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> prelude, out SequencePosition afterDelimiter)
    {
        var reader = new SequenceReader<byte>(buffer);
        var found = reader.TryReadTo(out prelude, Delimiter, advancePastDelimiter: true);
        afterDelimiter = reader.Position;
        return found;
    }

    /// <summary>No integration content type: Lambda answers 200 with the POST's own content type and the bytes verbatim.</summary>
    private void StartVerbatim()
    {
        invocation.Client.Response.StatusCode = StatusCodes.Status200OK;
        if (runtime.Request.ContentType is { Length: > 0 } contentType)
        {
            invocation.Client.Response.ContentType = contentType;
        }
    }

    /// <summary>Kestrel's rejection of a body cut short by the end of the connection (its message is all that tells it apart).</summary>
    /// <summary>Whether reading the function's streamed body ended in a way <see cref="StreamReadFailed"/> answers.</summary>
    private bool IsStreamReadFailure(Exception exception) => exception switch
    {
        BadHttpRequestException or IOException or ConnectionResetException or ConnectionAbortedException => true,
        OperationCanceledException => cancellationToken.IsCancellationRequested,
        _ => false,
    };

    /// <summary>
    /// How a streamed body that could not be read ended: malformed chunk framing is a protocol violation; a connection
    /// closed in the middle of the body (the process exited), a reset or the emulator stopping is an interruption.
    /// </summary>
    private AnswerOutcome StreamReadFailed(Exception exception)
    {
        if (exception is BadHttpRequestException bad && !IsConnectionClosedMidBody(bad))
        {
            var message = $"The function's chunked request body is malformed: {bad.Message}";
            invocation.Violation(message);
            return new AnswerOutcome(new InvocationFailure(EmulatorErrorTypes.ProtocolViolation, message), Crashed: true);
        }

        return Interrupted();
    }

    private static bool IsConnectionClosedMidBody(BadHttpRequestException exception) =>
        exception.Message.StartsWith("Unexpected end of request content", StringComparison.Ordinal);

    private AnswerOutcome Interrupted()
    {
        if (invocation.TimedOut || invocation.AnswerCancellation.IsCancellationRequested)
        {
            return new AnswerOutcome(new InvocationFailure(EmulatorErrorTypes.Timeout, "Task timed out while the function was answering."), Crashed: true);
        }

        return new AnswerOutcome(new InvocationFailure(EmulatorErrorTypes.ExitError, "The function's connection closed before its answer ended."), Crashed: true);
    }

    private JsonElement? ParsePrelude(ReadOnlySequence<byte> prelude)
    {
        try
        {
            var reader = new Utf8JsonReader(prelude);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            invocation.Violation($"The prelude is not valid JSON ({ex.Message}): {Truncate(Encoding.UTF8.GetString(prelude))}");
            return null;
        }
    }

    /// <summary>Checks the trailers after the last chunk; returns the failure an error trailer reports.</summary>
    private InvocationFailure? ReadTrailers()
    {
        var trailers = runtime.Features.Get<IHttpRequestTrailersFeature>();
        if (trailers is null || !trailers.Available || trailers.Trailers.Count == 0)
        {
            return null;
        }

        var declared = runtime.Request.Headers["Trailer"]
            .SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var name in trailers.Trailers.Keys)
        {
            if (!declared.Contains(name))
            {
                invocation.Violation($"The trailer '{name}' was not declared in the request's Trailer header (declared: '{runtime.Request.Headers["Trailer"]}').");
            }
        }

        var errorType = trailers.Trailers[ErrorTypeTrailer].ToString();
        if (errorType.Length == 0)
        {
            return null;
        }

        var errorBody = trailers.Trailers[ErrorBodyTrailer].ToString();
        string? message = null;
        byte[]? document = null;
        if (errorBody.Length > 0)
        {
            try
            {
                document = Convert.FromBase64String(errorBody);
                (_, message) = ErrorReport.ParseDocument(document);
            }
            catch (FormatException)
            {
                invocation.Violation($"The {ErrorBodyTrailer} trailer is not standard base64: {Truncate(errorBody)}");
            }
        }

        return new InvocationFailure(errorType, message ?? "(the function streamed an error trailer without a message)") { ErrorDocument = document };
    }

    private async Task<byte[]> ReadAllAsync(int limit)
    {
        using var buffer = new MemoryStream();
        var reader = runtime.Request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                buffer.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (buffer.Length > limit)
            {
                return buffer.ToArray(); // the caller refuses it; the rest is not read
            }

            if (result.IsCompleted)
            {
                return buffer.ToArray();
            }
        }
    }

    private async Task DrainAsync()
    {
        try
        {
            await runtime.Request.Body.CopyToAsync(Stream.Null, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or BadHttpRequestException or InvalidOperationException)
        {
        }
    }

    internal static bool MediaTypeIs(string? contentType, string mediaType) =>
        contentType is not null &&
        contentType.AsSpan().Trim().StartsWith(mediaType, StringComparison.OrdinalIgnoreCase) &&
        (contentType.Trim().Length == mediaType.Length || contentType.Trim()[mediaType.Length] is ';' or ' ');

    internal static string Truncate(string text) => text.Length <= 200 ? text : string.Concat(text.AsSpan(0, 200), "…");
}
