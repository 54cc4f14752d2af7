using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace LambdaStreamingHosting.EndToEnd;

/// <summary>
/// A Lambda function that does no work, for the emulator's floor: over one kept-alive socket it asks for an event and
/// answers it with the same small text response, streamed (prelude, delimiter, body, last chunk) or buffered, each
/// request in one write. The harness starts itself with <c>--null-function</c> to run it.
/// </summary>
internal static class NullFunction
{
    public const string Argument = "--null-function";

    private static readonly string Body = string.Concat(Enumerable.Repeat("A no-op function's answer. ", 26));

    public static async Task<int> RunAsync()
    {
        var endpoint = Environment.GetEnvironmentVariable("AWS_LAMBDA_RUNTIME_API")
            ?? throw new InvalidOperationException("AWS_LAMBDA_RUNTIME_API is not set: the null function runs only under the emulator.");
        var streaming = Environment.GetEnvironmentVariable("LambdaStreaming__InvokeMode") != nameof(LambdaInvokeMode.Buffered);
        var hostAndPort = endpoint.Split('/')[0];
        var colon = hostAndPort.LastIndexOf(':');
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(hostAndPort[..colon], int.Parse(hostAndPort[(colon + 1)..], CultureInfo.InvariantCulture));
        var reader = new ReplyReader(socket);
        var next = Encoding.ASCII.GetBytes($"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {hostAndPort}\r\n\r\n");
        while (true)
        {
            await socket.SendAsync(next);
            var (head, _) = await reader.ReadAsync();
            var requestId = head.Split("\r\n").First(l => l.StartsWith("Lambda-Runtime-Aws-Request-Id:", StringComparison.OrdinalIgnoreCase)).Split(':', 2)[1].Trim();
            await socket.SendAsync(Encoding.UTF8.GetBytes(Answer(requestId, hostAndPort, streaming)));
            await reader.ReadAsync();
        }
    }

    private static string Answer(string requestId, string host, bool streaming)
    {
        var path = $"/2018-06-01/runtime/invocation/{Uri.EscapeDataString(requestId)}/response";
        if (!streaming)
        {
            var document = $$"""{"statusCode":200,"headers":{"Content-Type":"text/plain; charset=utf-8"},"body":"{{Body}}","isBase64Encoded":false}""";
            return $"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(document)}\r\n\r\n{document}";
        }

        var stream = """{"statusCode":200,"headers":{"Content-Type":"text/plain; charset=utf-8"}}""" + new string('\0', 8) + Body;
        return $"POST {path} HTTP/1.1\r\nHost: {host}\r\nLambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n" +
            "Content-Type: application/vnd.awslambda.http-integration-response\r\n" +
            "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n" +
            $"{Encoding.UTF8.GetByteCount(stream):X}\r\n{stream}\r\n0\r\n\r\n";
    }

    /// <summary>Reads Content-Length-framed replies from the Runtime API.</summary>
    private sealed class ReplyReader(Socket socket)
    {
        private readonly byte[] _buffer = new byte[1024 * 1024];
        private int _filled;

        public async Task<(string Head, int BodyLength)> ReadAsync()
        {
            while (true)
            {
                var text = Encoding.ASCII.GetString(_buffer, 0, _filled);
                var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (headEnd >= 0)
                {
                    var head = text[..headEnd];
                    var lengthLine = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                    var length = lengthLine is null ? 0 : int.Parse(lengthLine.Split(':', 2)[1].Trim(), CultureInfo.InvariantCulture);
                    var total = headEnd + 4 + length;
                    if (_filled >= total)
                    {
                        _buffer.AsSpan(total, _filled - total).CopyTo(_buffer);
                        _filled -= total;
                        return (head, length);
                    }
                }

                var read = await socket.ReceiveAsync(_buffer.AsMemory(_filled));
                if (read == 0)
                {
                    throw new IOException("The Runtime API closed the connection.");
                }

                _filled += read;
            }
        }
    }
}
