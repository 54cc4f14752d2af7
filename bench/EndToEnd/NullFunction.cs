using System.Text;

namespace LambdaStreamingHosting.EndToEnd;

/// <summary>
/// A Lambda function that does no work, for the emulator's floor: it answers every event with the same small text
/// response, streamed (prelude, delimiter, body) or buffered, using a plain <see cref="HttpClient"/> against the Runtime
/// API. The harness starts itself with <c>--null-function</c> to run it.
/// </summary>
internal static class NullFunction
{
    public const string Argument = "--null-function";

    private static readonly byte[] Body = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("A no-op function's answer. ", 26)));

    public static async Task<int> RunAsync()
    {
        var endpoint = Environment.GetEnvironmentVariable("AWS_LAMBDA_RUNTIME_API")
            ?? throw new InvalidOperationException("AWS_LAMBDA_RUNTIME_API is not set: the null function runs only under the emulator.");
        var streaming = Environment.GetEnvironmentVariable("LambdaStreaming__InvokeMode") != nameof(LambdaInvokeMode.Buffered);
        using var client = new HttpClient { BaseAddress = new Uri($"http://{endpoint}/2018-06-01/runtime/invocation/"), Timeout = Timeout.InfiniteTimeSpan };
        var prelude = Encoding.UTF8.GetBytes("""{"statusCode":200,"headers":{"Content-Type":"text/plain; charset=utf-8"}}""");
        byte[] streamed = [.. prelude, .. new byte[8], .. Body];
        var buffered = Encoding.UTF8.GetBytes($$"""{"statusCode":200,"headers":{"Content-Type":"text/plain; charset=utf-8"},"body":"{{Encoding.UTF8.GetString(Body)}}","isBase64Encoded":false}""");
        while (true)
        {
            using var next = await client.GetAsync("next");
            var requestId = next.Headers.GetValues("Lambda-Runtime-Aws-Request-Id").Single();
            await next.Content.ReadAsByteArrayAsync();
            using var answer = new HttpRequestMessage(HttpMethod.Post, $"{Uri.EscapeDataString(requestId)}/response")
            {
                Content = new ByteArrayContent(streaming ? streamed : buffered),
            };
            if (streaming)
            {
                answer.Headers.TransferEncodingChunked = true;
                answer.Headers.Add("Lambda-Runtime-Function-Response-Mode", "streaming");
                answer.Headers.Trailer.Add("Lambda-Runtime-Function-Error-Type");
                answer.Headers.Trailer.Add("Lambda-Runtime-Function-Error-Body");
                answer.Content.Headers.ContentType = new("application/vnd.awslambda.http-integration-response");
            }
            else
            {
                answer.Content.Headers.ContentType = new("application/json");
            }

            using var reply = await client.SendAsync(answer);
            reply.EnsureSuccessStatusCode();
        }
    }
}
