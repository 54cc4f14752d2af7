using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Testing;

/// <summary>The Runtime API's replies: <c>202 {"status":"OK"}</c> and <c>{"errorMessage":…,"errorType":…}</c> errors.</summary>
internal static class RuntimeApiReplies
{
    public const string InvalidRequestId = "InvalidRequestID";
    public const string InvalidFunctionResponseMode = "InvalidFunctionResponseMode";
    public const string InvalidStateTransition = "InvalidStateTransition";
    public const string RequestEntityTooLarge = "RequestEntityTooLarge";
    public const string InvokeTimeout = "InvokeTimeout";

    /// <summary>The 410's type for an answer whose <c>Lambda-Runtime-Invocation-Id</c> is not the current delivery's.</summary>
    public const string ErrorRuntimeInvokeTimeout = "ErrorRuntimeInvokeTimeout";

    /// <summary>The header that ties an answer to one delivery of its invocation.</summary>
    public const string InvocationIdHeader = "Lambda-Runtime-Invocation-Id";

    /// <summary>A 500's type: the emulator is stopping or the execution environment failed, so the runtime exits.</summary>
    public const string Unavailable = "Emulator.Unavailable";

    private static readonly byte[] Accepted = "{\"status\":\"OK\"}"u8.ToArray();

    public static Task AcceptedAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = Accepted.Length;
        return context.Response.Body.WriteAsync(Accepted).AsTask();
    }

    public static Task ErrorAsync(HttpContext context, int statusCode, string errorType, string errorMessage)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "application/json";
        var body = new MemoryStream();
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("errorMessage", errorMessage);
            json.WriteString("errorType", errorType);
            json.WriteEndObject();
        }

        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length)).AsTask();
    }
}
