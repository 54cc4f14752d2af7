using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Events;

/// <summary>Writes the JSON prelude of a streamed response (without the 8-byte NUL delimiter).</summary>
internal static class PreludeWriter
{
    /// <summary>
    /// Writes <c>{"statusCode":…,"headers":{…},"cookies":[…]}</c> (or <c>multiValueHeaders</c> for REST) for the
    /// response. Drops <c>Content-Length</c> and <c>Transfer-Encoding</c>; each <c>Set-Cookie</c> value becomes a cookie.
    /// Nothing is written when it throws.
    /// </summary>
    /// <exception cref="InvalidOperationException">A header name or value holds CR, LF, NUL or another invalid character, or the status code is not 100–599.</exception>
    public static void Write(IBufferWriter<byte> output, ResponseShape shape, int statusCode, IHeaderDictionary headers)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(headers);
        ResponseHeadWriter.Validate(statusCode, headers);

        var writer = ResponseHeadWriter.RentJsonWriter(output);
        try
        {
            writer.WriteStartObject();
            ResponseHeadWriter.Write(writer, shape, statusCode, headers);
            writer.WriteEndObject();
            writer.Flush();
        }
        finally
        {
            ResponseHeadWriter.ReturnJsonWriter(writer);
        }
    }
}
