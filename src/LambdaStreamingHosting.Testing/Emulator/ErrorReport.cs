using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// An error a function reports: the <c>{"errorMessage":…,"errorType":…,"stackTrace":[…]}</c> document of
/// <c>POST /error</c> and <c>/init/error</c> (with its <c>Lambda-Runtime-Function-Error-Type</c> header), or of a
/// streamed answer's error trailer.
/// </summary>
internal static class ErrorReport
{
    /// <summary>Reads an error report: the type from the header (else the document), the message, and the document as sent.</summary>
    public static async Task<(string ErrorType, string Message, byte[] Document)> ReadAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var headerType = context.Request.Headers["Lambda-Runtime-Function-Error-Type"].ToString();
        byte[] body;
        try
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, cancellationToken);
            body = buffer.ToArray();
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or BadHttpRequestException)
        {
            body = [];
        }

        var (bodyType, message) = ParseDocument(body);
        var errorType = headerType.Length > 0 ? headerType : bodyType ?? EmulatorErrorTypes.Unknown;
        return (errorType, message ?? "(no errorMessage)", body);
    }

    /// <summary>The <c>errorType</c> and <c>errorMessage</c> of an error document; <see langword="null"/> for what it lacks or when it is not one.</summary>
    public static (string? ErrorType, string? Message) ParseDocument(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, null);
            }

            var type = document.RootElement.TryGetProperty("errorType", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            var message = document.RootElement.TryGetProperty("errorMessage", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            return (type, message);
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }
}
