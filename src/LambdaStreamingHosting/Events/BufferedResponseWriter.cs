using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace LambdaStreamingHosting.Events;

/// <summary>Writes the JSON document of a buffered response for the request's front end.</summary>
internal static class BufferedResponseWriter
{
    /// <summary>The largest Lambda response (Function URL, API Gateway): 6 MB plus the Runtime API's slack.</summary>
    public const int LambdaResponseLimit = 6_291_556;

    /// <summary>The largest response JSON an Application Load Balancer accepts: 1 MB.</summary>
    public const int AlbResponseLimit = 1_048_576;

    /// <summary>
    /// Writes <c>{"statusCode":…,"headers":…,"cookies"|"multiValueHeaders":…,"body":…,"isBase64Encoded":…}</c>
    /// (plus <c>statusDescription</c> for ALB), base64-encoding the body unless its content type is in
    /// <see cref="LambdaStreamingOptions.TextContentTypes"/> and it is valid UTF-8. Nothing is written when it throws
    /// before the body is known to fit; when the finished document is over the limit, the output holds it and
    /// <see cref="ResponseTooLargeException"/> is thrown: discard the output.
    /// </summary>
    /// <exception cref="InvalidOperationException">Invalid header or status code, as for <see cref="PreludeWriter"/>.</exception>
    /// <exception cref="ResponseTooLargeException">The document would exceed the front end's limit.</exception>
    public static void Write(IBufferWriter<byte> output, ResponseShape shape, int statusCode, IHeaderDictionary headers, ReadOnlySpan<byte> body, LambdaStreamingOptions options)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(options);
        ResponseHeadWriter.Validate(statusCode, headers);

        var limit = LimitOf(shape);
        if (body.Length > limit)
        {
            // Any encoding of the body is at least as long as the body.
            throw ResponseTooLargeException.For(shape, body.Length, limit, bodyOnly: true);
        }

        Utf8JsonWriter? writer = null;
        try
        {
            var asText = ContentTypes.IsText(headers[HeaderNames.ContentType], options.TextContentTypes) && Utf8.IsValid(body);

            writer = ResponseHeadWriter.RentJsonWriter(output);
            writer.WriteStartObject();
            ResponseHeadWriter.Write(writer, shape, statusCode, headers);
            if (asText)
            {
                writer.WriteString("body", body);
            }
            else
            {
                writer.WriteBase64String("body", body);
            }

            writer.WriteBoolean("isBase64Encoded", !asText);
            writer.WriteEndObject();
            writer.Flush();
            if (writer.BytesCommitted > limit)
            {
                throw ResponseTooLargeException.For(shape, writer.BytesCommitted, limit, bodyOnly: false);
            }
        }
        finally
        {
            if (writer is not null)
            {
                ResponseHeadWriter.ReturnJsonWriter(writer);
            }
        }
    }

    /// <summary>The most bytes the front end accepts as a buffered answer.</summary>
    public static int LimitOf(ResponseShape shape) =>
        shape is ResponseShape.AlbSingleValue or ResponseShape.AlbMultiValue ? AlbResponseLimit : LambdaResponseLimit;
}
