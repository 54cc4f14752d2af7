using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// An HTTP front end (Function URL, REST API, HTTP API, load balancer): turns a client request into the event its real
/// counterpart sends, queues it for the function, and turns the function's answer into the client's response.
/// </summary>
internal abstract class FrontDoor(LambdaFrontDoor kind, LambdaEmulatorOptions options, InvocationQueue queue, InvocationLog log)
{
    private const string ErrorHeader = "x-lambda-emulator-error";

    private const string RequestIdHeader = LambdaEmulator.RequestIdHeader;
    private const int MaxKeptEventBufferBytes = 64 * 1024;

    // Events are written synchronously, so each thread can reuse one buffer and writer (no 4 KB buffer per request).
    [ThreadStatic]
    private static System.Buffers.ArrayBufferWriter<byte>? t_eventBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_eventWriter;

    public LambdaFrontDoor Kind { get; } = kind;

    /// <summary>Parses a buffered answer: its root element, or <see langword="null"/> with the parser's message when it is not JSON.</summary>
    protected static JsonElement? ParseAnswer(byte[] answer, out string? error)
    {
        try
        {
            using var parsed = JsonDocument.Parse(answer);
            error = null;
            return parsed.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            error = ex.Message;
            return null;
        }
    }

    protected LambdaEmulatorOptions Options { get; } = options;

    /// <summary>The path the door's URL ends with, e.g. <c>/test/</c> for a REST stage.</summary>
    public virtual string BasePath => "/";

    /// <summary>Whether the function must stream its answers through this door.</summary>
    public abstract bool Streams { get; }

    /// <summary>What to change when the function streams to a door that buffers.</summary>
    public virtual string BufferedHint => "This front end never streams: configure the function with LambdaStreaming:InvokeMode=Buffered.";

    /// <summary>What to change when the function buffers through a door that streams.</summary>
    public virtual string StreamingHint => "Configure the function with LambdaStreaming:InvokeMode=ResponseStream, or the emulator with InvokeMode=Buffered.";

    /// <summary>Largest client request body accepted before the event is built.</summary>
    protected virtual int MaxRequestBodyBytes => Options.MaxEventBytes;

    public static FrontDoor Create(LambdaFrontDoor kind, LambdaEmulatorOptions options, InvocationQueue queue, InvocationLog log) => kind switch
    {
        LambdaFrontDoor.FunctionUrl => new PayloadV2Door(kind, options, queue, log),
        LambdaFrontDoor.HttpApi => new PayloadV2Door(kind, options, queue, log),
        LambdaFrontDoor.RestApi => new RestApiDoor(options, queue, log),
        LambdaFrontDoor.LambdaApi => new LambdaApiDoor(options, queue, log),
        _ => new AlbDoor(options, queue, log),
    };

    public string Describe() => Kind switch
    {
        LambdaFrontDoor.FunctionUrl => $"Function URL (InvokeMode {(Streams ? "RESPONSE_STREAM" : "BUFFERED")})",
        LambdaFrontDoor.RestApi => $"REST API ({(Streams ? "responseTransferMode STREAM" : "buffered")})",
        LambdaFrontDoor.HttpApi => "HTTP API",
        LambdaFrontDoor.LambdaApi => Streams ? "Lambda API (InvokeWithResponseStream)" : "Lambda API (Invoke)",
        _ => "Application Load Balancer",
    };

    /// <summary>
    /// Whether a failure after the client's response started cuts the client's connection (HTTP front ends), rather
    /// than being reported in the response itself (the Lambda API's <c>InvokeComplete</c> event).
    /// </summary>
    public virtual bool CutsClientOnFailure => true;

    /// <summary>Whether the door takes a buffered and a streamed answer alike (the Lambda API), so neither is a violation.</summary>
    public virtual bool TakesEitherAnswerMode => false;

    /// <summary>Writes an accepted buffered answer to the client; returns the failure, if any.</summary>
    public virtual Task<InvocationFailure?> WriteBufferedAsync(EmulatedInvocation invocation, ClientAnswer answer, CancellationToken cancellationToken) =>
        answer.WriteAsync(cancellationToken);

    public virtual async Task HandleAsync(HttpContext client)
    {
        if (!TryTakeRequestId(client, out var requestId))
        {
            client.Response.StatusCode = StatusCodes.Status400BadRequest;
            client.Response.Headers[ErrorHeader] = $"{RequestIdHeader} must be 1 to 100 letters, digits, '-', '_' or '.'.";
            return;
        }

        var body = await ClientRequestBody.ReadAsync(client, MaxRequestBodyBytes);
        InvocationFailure? refused = null;
        byte[] eventBytes = [];
        if (body is null)
        {
            refused = new InvocationFailure(EmulatorErrorTypes.RequestEntityTooLarge, $"The request body is larger than {MaxRequestBodyBytes} bytes.", StatusCodes.Status413PayloadTooLarge);
        }
        else if (RefuseRequest(client) is { } refusal)
        {
            refused = refusal;
        }
        else
        {
            // The front end traces every request; the same trace reaches the function in Lambda-Runtime-Trace-Id.
            var now = log.TimeProvider.GetUtcNow();
            if (client.Request.Headers[TraceIds.HeaderName].Count == 0)
            {
                client.Request.Headers[TraceIds.HeaderName] = TraceIds.NewRoot(now);
            }

            eventBytes = BuildEvent(client, body, requestId, now);
            if (eventBytes.Length > Options.MaxEventBytes)
            {
                refused = new InvocationFailure(EmulatorErrorTypes.RequestEntityTooLarge, $"The event would be {eventBytes.Length} bytes; Lambda accepts at most {Options.MaxEventBytes}.", StatusCodes.Status413PayloadTooLarge);
                eventBytes = [];
            }
        }

        var invocation = new EmulatedInvocation(requestId, this, client, eventBytes, log, Options.Strict);
        if (refused is not null)
        {
            invocation.Finish(refused);
        }
        else
        {
            queue.Enqueue(invocation);
        }

        var failure = await invocation.Finished;
        if (failure is not null && !client.Response.HasStarted && !invocation.ClientAborted)
        {
            client.Response.Clear();
            client.Response.StatusCode = failure.ClientStatusCode;
            client.Response.Headers[ErrorHeader] = HeaderSafe($"{failure.ErrorType}: {failure.Message}");
            var (contentType, text) = ErrorBody(failure);
            client.Response.ContentType = contentType;
            await client.Response.WriteAsync(text, client.RequestAborted);
        }
    }

    /// <summary>The request id: the client's <see cref="RequestIdHeader"/> (taken off the request), or a new one; false when the header is not a valid id.</summary>
    private static bool TryTakeRequestId(HttpContext client, out string requestId)
    {
        var chosen = client.Request.Headers[RequestIdHeader];
        if (chosen.Count == 0)
        {
            requestId = Guid.NewGuid().ToString();
            return true;
        }

        client.Request.Headers.Remove(RequestIdHeader);
        requestId = chosen.ToString();
        return requestId.Length is > 0 and <= 100 && requestId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
    }

    /// <summary>A response the door gives without invoking the function (e.g. a path outside the stage), or null.</summary>
    protected virtual InvocationFailure? RefuseRequest(HttpContext client) => null;

    /// <summary>The event for the request, as UTF-8 JSON.</summary>
    protected abstract byte[] BuildEvent(HttpContext client, byte[] body, string requestId, DateTimeOffset now);

    /// <summary>Applies a streamed answer's prelude to the client response; returns a failure to refuse it.</summary>
    public virtual InvocationFailure? ApplyPrelude(EmulatedInvocation invocation, JsonElement? prelude) =>
        throw new NotSupportedException($"The {Describe()} does not stream.");

    /// <summary>Reads a buffered answer into the client response it describes (or the failure that refuses it).</summary>
    public abstract ClientAnswer ReadBuffered(EmulatedInvocation invocation, byte[] answer);

    /// <summary>The body the client gets when the invocation fails.</summary>
    protected virtual (string ContentType, string Text) ErrorBody(InvocationFailure failure) => failure.ClientStatusCode switch
    {
        StatusCodes.Status413PayloadTooLarge => ("application/json", "{\"message\":\"Request Entity Too Large\"}"),
        StatusCodes.Status403Forbidden => ("application/json", "{\"message\":\"Forbidden\"}"),
        StatusCodes.Status404NotFound => ("application/json", "{\"message\":\"Not Found\"}"),
        _ => ("application/json", "{\"message\":\"Internal Server Error\"}"),
    };

    /// <summary>The request target as the client sent it: raw path and raw query (without <c>?</c>).</summary>
    protected static (string RawPath, string RawQuery) RawTarget(HttpContext client)
    {
        var target = client.Features.Get<IHttpRequestFeature>()?.RawTarget ?? (client.Request.Path + client.Request.QueryString);
        var question = target.IndexOf('?', StringComparison.Ordinal);
        return question < 0 ? (target, "") : (target[..question], target[(question + 1)..]);
    }

    /// <summary>Whether Lambda front ends deliver a body of this content type as text (otherwise base64).</summary>
    protected static bool IsTextBody(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return false;
        }

        var mediaType = contentType.Split(';', 2)[0].Trim();
        return mediaType.StartsWith("text/", StringComparison.OrdinalIgnoreCase) ||
               mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) ||
               mediaType.Equals("application/xml", StringComparison.OrdinalIgnoreCase) ||
               mediaType.Equals("application/javascript", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Writes <c>body</c> (absent when empty, unless <paramref name="nullWhenEmpty"/>) and <c>isBase64Encoded</c>.</summary>
    protected static void WriteBody(Utf8JsonWriter json, HttpContext client, byte[] body, bool nullWhenEmpty)
    {
        if (body.Length == 0)
        {
            if (nullWhenEmpty)
            {
                json.WriteNull("body");
            }

            json.WriteBoolean("isBase64Encoded", false);
            return;
        }

        var text = IsTextBody(client.Request.ContentType);
        json.WriteString("body", text ? Encoding.UTF8.GetString(body) : Convert.ToBase64String(body));
        json.WriteBoolean("isBase64Encoded", !text);
    }

    protected static string ClientIp(HttpContext client) => client.Connection.RemoteIpAddress?.ToString() ?? "127.0.0.1";

    /// <summary>The <c>x-forwarded-*</c> headers the front end adds (lower-case names).</summary>
    protected static IEnumerable<KeyValuePair<string, string>> AddedHeaders(HttpContext client)
    {
        var forwardedFor = client.Request.Headers["X-Forwarded-For"].ToString();
        yield return new("x-forwarded-for", forwardedFor.Length > 0 ? $"{forwardedFor}, {ClientIp(client)}" : ClientIp(client));
        yield return new("x-forwarded-proto", client.Request.Scheme);
        yield return new("x-forwarded-port", client.Connection.LocalPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    protected static string RequestTime(DateTimeOffset now) =>
        now.ToUniversalTime().ToString("dd/MMM/yyyy:HH:mm:ss +0000", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Writes an event with this thread's reused buffer and writer; returns a copy of the bytes.</summary>
    protected static byte[] WriteJson(Action<Utf8JsonWriter> write)
    {
        var buffer = t_eventBuffer ??= new System.Buffers.ArrayBufferWriter<byte>(4096);
        var json = t_eventWriter ??= new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        try
        {
            json.Reset(buffer);
            write(json);
            json.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            json.Reset(Stream.Null);
            buffer.ResetWrittenCount();
            if (buffer.Capacity > MaxKeptEventBufferBytes)
            {
                t_eventBuffer = null; // a large event's buffer is not kept
            }
        }
    }

    protected static string HeaderSafe(string value)
    {
        var builder = new StringBuilder(Math.Min(value.Length, 1000));
        foreach (var c in value)
        {
            if (builder.Length >= 1000)
            {
                break;
            }

            builder.Append(c is >= ' ' and <= '~' ? c : ' ');
        }

        return builder.ToString();
    }
}
