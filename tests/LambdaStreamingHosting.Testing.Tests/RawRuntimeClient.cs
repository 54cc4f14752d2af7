using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>
/// A minimal Lambda Runtime API client written straight from the protocol notes, over raw sockets and hand-written
/// HTTP/1.1 (one connection per request). It shares nothing with the LambdaStreamingHosting server, so the emulator is
/// not validated only by the server that grew up with it.
/// </summary>
internal sealed class RawRuntimeClient(string endpoint)
{
    private const string Base = "/2018-06-01/runtime/";

    /// <summary>A reply from the Runtime API.</summary>
    public sealed record Reply(int Status, Dictionary<string, string> Headers, byte[] Body)
    {
        public string Text => Encoding.UTF8.GetString(Body);

        public string Header(string name) => Headers.TryGetValue(name, out var value) ? value : "";
    }

    /// <summary>An event from <c>GET /next</c>.</summary>
    public sealed record Event(string RequestId, Reply Reply)
    {
        public System.Text.Json.JsonElement Json => System.Text.Json.JsonDocument.Parse(Reply.Body).RootElement;

        /// <summary>The delivery's <c>Lambda-Runtime-Invocation-Id</c>.</summary>
        public string InvocationId => Reply.Header("Lambda-Runtime-Invocation-Id");
    }

    public async Task<Event> NextAsync(CancellationToken cancellationToken = default)
    {
        var reply = await SendAsync("GET", Base + "invocation/next", [], [], cancellationToken);
        if (reply.Status != 200)
        {
            throw new InvalidOperationException($"/next answered {reply.Status}: {reply.Text}");
        }

        return new Event(reply.Header("Lambda-Runtime-Aws-Request-Id"), reply);
    }

    public Task<Reply> NextRawAsync(CancellationToken cancellationToken = default) =>
        SendAsync("GET", Base + "invocation/next", [], [], cancellationToken);

    public Task<Reply> PostBufferedAsync(string requestId, string json, string contentType = "application/json", string? invocationId = null) =>
        PostBufferedAsync(requestId, Encoding.UTF8.GetBytes(json), contentType, invocationId);

    /// <summary>Posts a buffered answer; with <paramref name="invocationId"/>, it carries <c>Lambda-Runtime-Invocation-Id</c>.</summary>
    public Task<Reply> PostBufferedAsync(string requestId, byte[] body, string contentType = "application/json", string? invocationId = null) =>
        SendAsync("POST", $"{Base}invocation/{requestId}/response", [("Content-Type", contentType), .. InvocationIdHeader(invocationId)], body, default);

    public Task<Reply> PostErrorAsync(string requestId, string errorType, string message, string? invocationId = null) =>
        SendAsync("POST", $"{Base}invocation/{requestId}/error", [("Content-Type", "application/json"), ("Lambda-Runtime-Function-Error-Type", errorType), .. InvocationIdHeader(invocationId)],
            Encoding.UTF8.GetBytes($"{{\"errorMessage\":\"{message}\",\"errorType\":\"{errorType}\",\"stackTrace\":[]}}"), default);

    private static (string Name, string Value)[] InvocationIdHeader(string? invocationId) =>
        invocationId is null ? [] : [("Lambda-Runtime-Invocation-Id", invocationId)];

    public Task<Reply> PostInitErrorAsync(string errorType, string message) =>
        SendAsync("POST", Base + "init/error", [("Content-Type", "application/json"), ("Lambda-Runtime-Function-Error-Type", errorType)],
            Encoding.UTF8.GetBytes($"{{\"errorMessage\":\"{message}\",\"errorType\":\"{errorType}\"}}"), default);

    /// <summary>Starts a streamed answer (chunked POST); write chunks, then end it with or without trailers.</summary>
    public async Task<StreamedAnswer> BeginStreamAsync(
        string requestId,
        string contentType = "application/vnd.awslambda.http-integration-response",
        string? declaredTrailers = "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
        string responseMode = "streaming",
        string? invocationId = null)
    {
        var socket = await ConnectAsync();
        await socket.WriteAsync(StreamHead(requestId, contentType, declaredTrailers, responseMode, invocationId));
        await socket.FlushAsync();
        return new StreamedAnswer(socket);
    }

    /// <summary>
    /// Posts a whole streamed answer in ONE socket write, as a runtime does with a small answer: the request head, the
    /// stream in chunks of <paramref name="chunkBytes"/>, the last chunk and the trailers. Reads the Runtime API's reply.
    /// </summary>
    public async Task<Reply> PostStreamInOneWriteAsync(string requestId, byte[] stream, int chunkBytes, params (string Name, string Value)[] trailers)
    {
        using var request = new MemoryStream();
        request.Write(StreamHead(requestId, "application/vnd.awslambda.http-integration-response", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body", "streaming"));
        foreach (var chunk in stream.Chunk(chunkBytes))
        {
            request.Write(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"));
            request.Write(chunk);
            request.Write("\r\n"u8);
        }

        request.Write(LastChunk(trailers));
        await using var socket = await ConnectAsync();
        await socket.WriteAsync(request.ToArray());
        await socket.FlushAsync();
        return await ReadHttpReplyAsync(socket, default);
    }

    private byte[] StreamHead(string requestId, string contentType, string? declaredTrailers, string responseMode, string? invocationId = null)
    {
        var head = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"POST {Base}invocation/{requestId}/response HTTP/1.1\r\n")
            .Append(CultureInfo.InvariantCulture, $"Host: {endpoint}\r\n")
            .Append(CultureInfo.InvariantCulture, $"Lambda-Runtime-Function-Response-Mode: {responseMode}\r\n")
            .Append("Transfer-Encoding: chunked\r\n")
            .Append(CultureInfo.InvariantCulture, $"Content-Type: {contentType}\r\n");
        if (declaredTrailers is not null)
        {
            head.Append(CultureInfo.InvariantCulture, $"Trailer: {declaredTrailers}\r\n");
        }

        if (invocationId is not null)
        {
            head.Append(CultureInfo.InvariantCulture, $"Lambda-Runtime-Invocation-Id: {invocationId}\r\n");
        }

        head.Append("\r\n");
        return Encoding.ASCII.GetBytes(head.ToString());
    }

    /// <summary>The last chunk of a chunked body, with its trailers.</summary>
    private static byte[] LastChunk((string Name, string Value)[] trailers)
    {
        var end = new StringBuilder("0\r\n");
        foreach (var (name, value) in trailers)
        {
            end.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        end.Append("\r\n");
        return Encoding.ASCII.GetBytes(end.ToString());
    }

    /// <summary>The body of a streamed answer being written chunk by chunk.</summary>
    public sealed class StreamedAnswer(NetworkStream socket) : IAsyncDisposable
    {
        public async Task WriteChunkAsync(byte[] data)
        {
            if (data.Length == 0)
            {
                return;
            }

            await socket.WriteAsync(Encoding.ASCII.GetBytes($"{data.Length:x}\r\n"));
            await socket.WriteAsync(data);
            await socket.WriteAsync("\r\n"u8.ToArray());
            await socket.FlushAsync();
        }

        public Task WriteChunkAsync(string text) => WriteChunkAsync(Encoding.UTF8.GetBytes(text));

        /// <summary>Writes each byte of <paramref name="data"/> as its own chunk (chunk boundaries must mean nothing).</summary>
        public async Task WriteBytewiseAsync(byte[] data)
        {
            foreach (var b in data)
            {
                await WriteChunkAsync([b]);
            }
        }

        /// <summary>Ends the body (optionally with trailers) and reads the Runtime API's reply.</summary>
        public async Task<Reply> EndAsync(params (string Name, string Value)[] trailers)
        {
            await socket.WriteAsync(LastChunk(trailers));
            await socket.FlushAsync();
            return await ReadHttpReplyAsync(socket, default);
        }

        /// <summary>Reads the reply without ending the body (for replies the emulator sends early, e.g. 413).</summary>
        public Task<Reply> ReadReplyAsync() => ReadHttpReplyAsync(socket, default);

        /// <summary>Closes the connection mid-answer, as a crashing function would.</summary>
        public void Crash() => socket.Socket.Close(0);

        /// <summary>Closes the connection mid-answer in order (FIN, not reset), as a function process that exits does.</summary>
        public void Exit()
        {
            socket.Socket.Shutdown(SocketShutdown.Both);
            socket.Socket.Close();
        }

        public ValueTask DisposeAsync() => socket.DisposeAsync();
    }

    /// <summary>A JSON prelude followed by the 8-byte NUL delimiter.</summary>
    public static byte[] Prelude(string json) => [.. Encoding.UTF8.GetBytes(json), .. new byte[8]];

    public static string ErrorTrailerBody(string errorType, string message) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{{\"errorMessage\":\"{message}\",\"errorType\":\"{errorType}\",\"stackTrace\":[]}}"));

    /// <summary>Sends a hand-written HTTP/1.1 request (e.g. with repeated header lines) and reads the reply.</summary>
    public async Task<Reply> SendRawAsync(string request)
    {
        await using var socket = await ConnectAsync();
        await socket.WriteAsync(Encoding.ASCII.GetBytes(request));
        await socket.FlushAsync();
        return await ReadHttpReplyAsync(socket, default);
    }

    private async Task<NetworkStream> ConnectAsync()
    {
        var colon = endpoint.LastIndexOf(':');
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(endpoint[..colon], int.Parse(endpoint[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        return new NetworkStream(client, ownsSocket: true);
    }

    private async Task<Reply> SendAsync(string method, string path, (string, string)[] headers, byte[] body, CancellationToken cancellationToken)
    {
        await using var socket = await ConnectAsync();
        var head = new StringBuilder($"{method} {path} HTTP/1.1\r\nHost: {endpoint}\r\n");
        foreach (var (name, value) in headers)
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        if (method == "POST")
        {
            head.Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n");
        }

        head.Append("\r\n");
        await socket.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), cancellationToken);
        await socket.WriteAsync(body, cancellationToken);
        await socket.FlushAsync(cancellationToken);
        return await ReadHttpReplyAsync(socket, cancellationToken);
    }

    /// <summary>Reads an HTTP/1.1 reply with a Content-Length or chunked body.</summary>
    private static async Task<Reply> ReadHttpReplyAsync(NetworkStream socket, CancellationToken cancellationToken)
    {
        var reader = new ByteReader(socket);
        var statusLine = await reader.ReadLineAsync(cancellationToken);
        var status = int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (await reader.ReadLineAsync(cancellationToken) is { Length: > 0 } line)
        {
            var colon = line.IndexOf(':');
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        byte[] body;
        if (headers.TryGetValue("Content-Length", out var length))
        {
            body = await reader.ReadExactlyAsync(int.Parse(length, System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        }
        else if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            using var collected = new MemoryStream();
            while (true)
            {
                var size = Convert.ToInt32((await reader.ReadLineAsync(cancellationToken)).Split(';')[0], 16);
                if (size == 0)
                {
                    while ((await reader.ReadLineAsync(cancellationToken)).Length > 0)
                    {
                    }

                    break;
                }

                collected.Write(await reader.ReadExactlyAsync(size, cancellationToken));
                await reader.ReadLineAsync(cancellationToken);
            }

            body = collected.ToArray();
        }
        else
        {
            body = [];
        }

        return new Reply(status, headers, body);
    }

    /// <summary>Buffered reading of lines and exact byte counts from a socket.</summary>
    private sealed class ByteReader(NetworkStream socket)
    {
        private readonly byte[] _buffer = new byte[16 * 1024];
        private int _start;
        private int _end;

        public async Task<string> ReadLineAsync(CancellationToken cancellationToken)
        {
            var line = new List<byte>();
            while (true)
            {
                if (_start == _end)
                {
                    await FillAsync(cancellationToken);
                }

                var b = _buffer[_start++];
                if (b == '\n')
                {
                    return Encoding.ASCII.GetString([.. line]).TrimEnd('\r');
                }

                line.Add(b);
            }
        }

        public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
        {
            var result = new byte[count];
            var filled = 0;
            while (filled < count)
            {
                if (_start == _end)
                {
                    await FillAsync(cancellationToken);
                }

                var n = Math.Min(count - filled, _end - _start);
                Array.Copy(_buffer, _start, result, filled, n);
                _start += n;
                filled += n;
            }

            return result;
        }

        private async Task FillAsync(CancellationToken cancellationToken)
        {
            _start = 0;
            _end = await socket.ReadAsync(_buffer, cancellationToken);
            if (_end == 0)
            {
                throw new EndOfStreamException("The Runtime API closed the connection.");
            }
        }
    }
}
