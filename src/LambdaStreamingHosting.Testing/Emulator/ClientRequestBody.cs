using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Testing;

/// <summary>Reads a caller's whole request body up to a limit, for the front doors and the Lambda invoke API alike.</summary>
internal static class ClientRequestBody
{
    /// <summary>The caller's whole body; empty when the request can have none; null when it is larger than <paramref name="limit"/>.</summary>
    public static async Task<byte[]?> ReadAsync(HttpContext client, int limit)
    {
        if (client.Request.ContentLength > limit)
        {
            return null;
        }

        if (client.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
        {
            return []; // e.g. a GET without Content-Length or Transfer-Encoding
        }

        using var buffer = new MemoryStream();
        var reader = client.Request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(client.RequestAborted);
            foreach (var segment in result.Buffer)
            {
                buffer.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (buffer.Length > limit)
            {
                return null;
            }

            if (result.IsCompleted)
            {
                return buffer.ToArray();
            }
        }
    }
}
