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

    public static Task AcceptedAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync("{\"status\":\"OK\"}");
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

        return context.Response.Body.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length)).AsTask();
    }
}
