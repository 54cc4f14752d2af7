using System.Buffers;
using System.Text.Json;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// The error document Lambda expects on <c>/error</c>, <c>/init/error</c> and in the error-body trailer:
/// <c>{"errorMessage":…,"errorType":…,"stackTrace":[…]}</c>.
/// </summary>
internal sealed record LambdaError(string ErrorType, string ErrorMessage, IReadOnlyList<string>? StackTrace = null)
{
    /// <summary>
    /// Describes <paramref name="exception"/> as Lambda's own runtimes do: the <c>errorType</c> is the exception's type
    /// name (<c>InvalidOperationException</c>), always; with <paramref name="includeDetails"/> the message and stack
    /// trace are its own, otherwise a generic message pointing to the logs.
    /// </summary>
    public static LambdaError FromException(Exception exception, bool includeDetails, string context)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var errorType = exception.GetType().Name;
        if (!includeDetails)
        {
            return new LambdaError(errorType, $"{context} See the function's logs for the exception.");
        }

        var stack = exception.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new LambdaError(errorType, exception.Message, stack);
    }

    /// <summary>The UTF-8 JSON document.</summary>
    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("errorMessage"u8, ErrorMessage);
            json.WriteString("errorType"u8, ErrorType);
            json.WriteStartArray("stackTrace"u8);
            foreach (var line in StackTrace ?? [])
            {
                json.WriteStringValue(line);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
