using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Events;

/// <summary>Writes the JSON document of a buffered response for the request's front end.</summary>
internal static class BufferedResponseWriter
{
    /// <summary>
    /// Writes <c>{"statusCode":…,"headers":…,"cookies"|"multiValueHeaders":…,"body":…,"isBase64Encoded":…}</c>
    /// (plus <c>statusDescription</c> for ALB), base64-encoding the body unless its content type is in
    /// <see cref="LambdaStreamingOptions.TextContentTypes"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Invalid header or status code, as for <see cref="PreludeWriter"/>.</exception>
    /// <exception cref="ResponseTooLargeException">The document would exceed the front end's limit.</exception>
    public static void Write(IBufferWriter<byte> output, ResponseShape shape, int statusCode, IHeaderDictionary headers, ReadOnlySequence<byte> body, LambdaStreamingOptions options)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(options);
        _ = shape;
        _ = statusCode;
        _ = body;
        throw new NotSupportedException("Buffered responses are not implemented yet.");
    }
}

/// <summary>A buffered response is larger than the front end accepts.</summary>
internal sealed class ResponseTooLargeException : Exception
{
    public ResponseTooLargeException(string message) : base(message)
    {
    }

    /// <summary>The Lambda <c>errorType</c> reported for the invocation.</summary>
    public static string ErrorType => "LambdaStreaming.ResponseTooLarge";
}
