using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// Lambda's own invoke API, as the AWS SDKs call it: <c>POST /2015-03-31/functions/{name}/invocations</c>
/// (<c>Invoke</c>: <c>RequestResponse</c> answers with the function's payload, <c>Event</c> queues it and answers 202,
/// <c>DryRun</c> answers 204) and <c>POST /2021-11-15/functions/{name}/response-streaming-invocations</c>
/// (<c>InvokeWithResponseStream</c>: an event stream of <c>PayloadChunk</c> events and one <c>InvokeComplete</c>).
/// The event is the caller's payload as sent. Signatures are not checked (any <c>Authorization</c>, or none, is
/// accepted). Bad input gets Lambda's error shapes: the status, <c>x-amzn-ErrorType</c> and
/// <c>{"Type":"User","message":…}</c>.
/// </summary>
internal sealed partial class LambdaApiDoor : FrontDoor
{
    private const string InvokePrefix = "/2015-03-31/functions/";
    private const string InvokeSuffix = "/invocations";
    private const string StreamPrefix = "/2021-11-15/functions/";
    private const string StreamSuffix = "/response-streaming-invocations";

    /// <summary>Lambda's limit on an <c>Event</c> (asynchronous) invocation's payload: 1 MB.</summary>
    private const int MaxAsyncPayloadBytes = 1024 * 1024;

    /// <summary>Lambda's limit on the base64 client context.</summary>
    private const int MaxClientContextBytes = 3583;

    private readonly InvocationQueue _queue;
    private readonly InvocationLog _log;
    private readonly bool _streams;
    private readonly LambdaApiDoor _streamingTwin;

    public LambdaApiDoor(LambdaEmulatorOptions options, InvocationQueue queue, InvocationLog log)
        : this(options, queue, log, streams: false)
    {
    }

    private LambdaApiDoor(LambdaEmulatorOptions options, InvocationQueue queue, InvocationLog log, bool streams)
        : base(LambdaFrontDoor.LambdaApi, options, queue, log)
    {
        _queue = queue;
        _log = log;
        _streams = streams;
        _streamingTwin = streams ? this : new LambdaApiDoor(options, queue, log, streams: true);
    }

    public override bool Streams => _streams;

    public override bool CutsClientOnFailure => false;

    public override bool TakesEitherAnswerMode => true;

    public override async Task HandleAsync(HttpContext client)
    {
        var path = client.Request.Path.Value ?? "";
        string? name = null;
        var streaming = false;
        if (path.StartsWith(InvokePrefix, StringComparison.Ordinal) && path.EndsWith(InvokeSuffix, StringComparison.Ordinal))
        {
            name = path[InvokePrefix.Length..^InvokeSuffix.Length];
        }
        else if (path.StartsWith(StreamPrefix, StringComparison.Ordinal) && path.EndsWith(StreamSuffix, StringComparison.Ordinal))
        {
            name = path[StreamPrefix.Length..^StreamSuffix.Length];
            streaming = true;
        }

        if (name is null || name.Length == 0 || !HttpMethods.IsPost(client.Request.Method))
        {
            await RefuseAsync(client, StatusCodes.Status404NotFound, "UnknownOperationException", $"The emulator's Lambda API serves POST {InvokePrefix}{{FunctionName}}{InvokeSuffix} (Invoke) and POST {StreamPrefix}{{FunctionName}}{StreamSuffix} (InvokeWithResponseStream); not {client.Request.Method} {path}.");
            return;
        }

        var operation = streaming ? "InvokeWithResponseStream" : "Invoke";
        var request = client.Request;
        if (Validate(request, name, operation, streaming) is { } refusal)
        {
            await RefuseAsync(client, refusal.Status, refusal.ErrorType, refusal.Message);
            return;
        }

        var type = request.Headers["X-Amz-Invocation-Type"].ToString() is { Length: > 0 } given ? given : "RequestResponse";
        var (qualifiedArn, executedVersion) = Resolve(name, request.Query["Qualifier"].ToString());
        var limit = type == "Event" ? MaxAsyncPayloadBytes : Options.MaxEventBytes;
        var payload = await ClientRequestBody.ReadAsync(client, limit);
        if (payload is null)
        {
            var operationName = type == "Event" ? "InvokeAsync" : "InvokeFunction";
            await RefuseAsync(client, StatusCodes.Status413RequestEntityTooLarge, "RequestTooLargeException", $"Request must be smaller than {limit} bytes for the {operationName} operation");
            return;
        }

        if (payload.Length == 0)
        {
            payload = "{}"u8.ToArray(); // no payload: the function gets an empty JSON object
        }
        else if (!IsJson(payload, out var problem))
        {
            await RefuseAsync(client, StatusCodes.Status400BadRequest, "InvalidRequestContentException", $"Could not parse request body into json: {problem}");
            return;
        }

        var requestId = Guid.NewGuid().ToString();
        client.Response.Headers["x-amzn-RequestId"] = requestId;
        if (type == "DryRun")
        {
            client.Response.StatusCode = StatusCodes.Status204NoContent;
            client.Response.Headers["X-Amz-Executed-Version"] = executedVersion;
            return;
        }

        // The front end traces every request; the same trace reaches the function in Lambda-Runtime-Trace-Id.
        if (request.Headers[TraceIds.HeaderName].Count == 0)
        {
            request.Headers[TraceIds.HeaderName] = TraceIds.NewRoot(_log.TimeProvider.GetUtcNow());
        }

        var clientContext = ClientContextJson(request.Headers["X-Amz-Client-Context"].ToString());
        var logTail = request.Headers["X-Amz-Log-Type"].ToString() == "Tail" && type != "Event" ? new FunctionLogTail() : null;
        var isEvent = type == "Event";
        var caller = isEvent ? Detach(client) : client;
        var call = new LambdaApiCall(isEvent ? null : client, streaming, executedVersion);
        var invocation = new EmulatedInvocation(requestId, streaming ? _streamingTwin : this, caller, payload, _log, Options.Strict)
        {
            InvokedFunctionArn = qualifiedArn,
            ClientContext = clientContext,
            Log = logTail,
            ApiCall = call,
        };

        if (isEvent)
        {
            // Queued: the caller has its answer before the function runs.
            client.Response.StatusCode = StatusCodes.Status202Accepted;
            _queue.Enqueue(invocation);
            return;
        }

        _queue.Enqueue(invocation);
        var failure = await invocation.Finished;
        await call.CompleteAsync(invocation, failure, client.RequestAborted);
    }

    public override ClientAnswer ReadBuffered(EmulatedInvocation invocation, byte[] answer) =>
        new(invocation, streaming: false) { Body = answer };

    public override Task<InvocationFailure?> WriteBufferedAsync(EmulatedInvocation invocation, ClientAnswer answer, CancellationToken cancellationToken)
    {
        invocation.ApiCall?.KeepBuffered(answer.Body);
        return Task.FromResult<InvocationFailure?>(null);
    }

    private (int Status, string ErrorType, string Message)? Validate(HttpRequest request, string name, string operation, bool streaming)
    {
        var type = request.Headers["X-Amz-Invocation-Type"].ToString();
        string[] types = streaming ? ["RequestResponse", "DryRun"] : ["RequestResponse", "Event", "DryRun"];
        if (type.Length > 0 && !types.Contains(type, StringComparer.Ordinal))
        {
            return (StatusCodes.Status400BadRequest, "InvalidParameterValueException", $"Unsupported invocation type '{type}' for {operation}: use {string.Join(", ", types)}.");
        }

        var logType = request.Headers["X-Amz-Log-Type"].ToString();
        if (logType.Length > 0 && logType is not ("None" or "Tail"))
        {
            return (StatusCodes.Status400BadRequest, "InvalidParameterValueException", $"Unsupported log type '{logType}': use None or Tail.");
        }

        var qualifier = request.Query["Qualifier"].ToString();
        if (qualifier.Length > 0 && !QualifierPattern().IsMatch(qualifier))
        {
            return (StatusCodes.Status400BadRequest, "ValidationException", $"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)");
        }

        if (!TryParseName(name, out var functionName, out var region, out var account, out var nameQualifier))
        {
            return (StatusCodes.Status400BadRequest, "ValidationException", $"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: Member must be a function name, a partial ARN (account:function:name) or a function ARN.");
        }

        if (functionName != Options.FunctionName || (region is not null && region != Options.Region) || (account is not null && account != Options.AccountId))
        {
            var arn = $"arn:aws:lambda:{region ?? Options.Region}:{account ?? Options.AccountId}:function:{functionName}";
            return (StatusCodes.Status404NotFound, "ResourceNotFoundException", $"Function not found: {arn} (the emulator runs {Options.FunctionArn})");
        }

        if (nameQualifier is not null && qualifier.Length > 0 && nameQualifier != qualifier)
        {
            return (StatusCodes.Status400BadRequest, "InvalidParameterValueException", "The derived qualifier from the function name does not match the specified qualifier.");
        }

        var clientContext = request.Headers["X-Amz-Client-Context"].ToString();
        if (clientContext.Length > MaxClientContextBytes)
        {
            return (StatusCodes.Status400BadRequest, "InvalidParameterValueException", $"Client context must be at most {MaxClientContextBytes} bytes of base64; it is {clientContext.Length}.");
        }

        if (clientContext.Length > 0 && ClientContextJson(clientContext) is null)
        {
            return (StatusCodes.Status400BadRequest, "InvalidParameterValueException", "Client context must be a valid Base64-encoded JSON object.");
        }

        return null;
    }

    /// <summary>The invoked ARN (with the qualifier, when one was asked for) and the version that runs.</summary>
    private (string Arn, string ExecutedVersion) Resolve(string name, string queryQualifier)
    {
        var qualifier = queryQualifier.Length > 0 ? queryQualifier
            : TryParseName(name, out _, out _, out _, out var nameQualifier) ? nameQualifier : null;
        if (qualifier is null)
        {
            return (Options.FunctionArn, "$LATEST");
        }

        // One function, one code version: a version number runs as itself; $LATEST and any alias run $LATEST.
        var version = qualifier.All(char.IsAsciiDigit) ? qualifier : "$LATEST";
        return ($"{Options.FunctionArn}:{qualifier}", version);
    }

    /// <summary>Reads a function name, partial ARN (<c>account:function:name</c>) or ARN, each optionally <c>:qualifier</c>.</summary>
    private static bool TryParseName(string name, out string functionName, out string? region, out string? account, out string? qualifier)
    {
        functionName = "";
        region = account = qualifier = null;
        var parts = name.Split(':');
        switch (parts.Length)
        {
            case 1 or 2:
                functionName = parts[0];
                qualifier = parts.Length == 2 ? parts[1] : null;
                break;
            case 3 or 4 when parts[1] == "function":
                account = parts[0];
                functionName = parts[2];
                qualifier = parts.Length == 4 ? parts[3] : null;
                break;
            case 7 or 8 when parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function":
                region = parts[3];
                account = parts[4];
                functionName = parts[6];
                qualifier = parts.Length == 8 ? parts[7] : null;
                break;
            default:
                return false;
        }

        return FunctionNamePattern().IsMatch(functionName) && (qualifier is null || QualifierPattern().IsMatch(qualifier));
    }

    /// <summary>The client context decoded and re-written compactly (a valid header value), or null when it is not base64 of a JSON object.</summary>
    private static string? ClientContextJson(string base64)
    {
        if (base64.Length == 0)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(Convert.FromBase64String(base64));
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                document.RootElement.WriteTo(json);
            }

            return Encoding.UTF8.GetString(buffer.ToArray());
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return null;
        }
    }

    private static bool IsJson(byte[] payload, out string? problem)
    {
        try
        {
            using var _ = JsonDocument.Parse(payload);
            problem = null;
            return true;
        }
        catch (JsonException ex)
        {
            problem = ex.Message;
            return false;
        }
    }

    /// <summary>An <c>Event</c> call's stand-in for the caller, who has its 202 and is gone: what the function answers is dropped.</summary>
    private static DefaultHttpContext Detach(HttpContext client)
    {
        var detached = new DefaultHttpContext();
        detached.Request.Method = client.Request.Method;
        detached.Request.Path = client.Request.Path;
        detached.Request.QueryString = client.Request.QueryString;
        detached.Request.Headers[TraceIds.HeaderName] = client.Request.Headers[TraceIds.HeaderName];
        detached.Response.StatusCode = StatusCodes.Status202Accepted;
        return detached;
    }

    /// <summary>Lambda's error answer: the status, <c>x-amzn-ErrorType</c> and <c>{"Type":"User","message":…}</c>.</summary>
    private static async Task RefuseAsync(HttpContext client, int status, string errorType, string message)
    {
        var response = client.Response;
        response.StatusCode = status;
        response.Headers["x-amzn-RequestId"] = Guid.NewGuid().ToString();
        response.Headers["x-amzn-ErrorType"] = errorType;
        response.ContentType = "application/json";
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("Type", "User");
            json.WriteString("message", message);
            json.WriteEndObject();
        }

        await response.Body.WriteAsync(buffer.ToArray(), client.RequestAborted);
    }

    protected override byte[] BuildEvent(HttpContext client, byte[] body, string requestId, DateTimeOffset now) => body;

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex FunctionNamePattern();

    [GeneratedRegex("^[a-zA-Z0-9$_-]{1,128}$")]
    private static partial Regex QualifierPattern();
}
