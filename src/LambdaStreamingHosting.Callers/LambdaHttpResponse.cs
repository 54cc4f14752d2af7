using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LambdaStreamingHosting.Callers;

/// <summary>
/// The HTTP response an HTTP-streaming Lambda function sends, read from the payload of Lambda's
/// <c>InvokeWithResponseStream</c>: such a function streams a JSON prelude (<c>statusCode</c>, <c>headers</c>,
/// <c>cookies</c>), 8 NUL bytes, then the body, and a caller that invokes it through an AWS SDK (not through its Function
/// URL) receives those bytes as they are, split into <c>PayloadChunk</c> events. <see cref="ReadAsync"/> reads the
/// prelude and gives the rest as <see cref="Body"/>, which yields each part as soon as it arrives.
/// </summary>
/// <remarks>
/// <para>
/// The input is the payload bytes, the <c>PayloadChunk</c> payloads in order, as a <see cref="Stream"/>. With the AWS
/// SDK for .NET (<c>AWSSDK.Lambda</c> 4, whose event stream is an <see cref="IAsyncEnumerable{T}"/>), turn the events
/// into chunks, failing when <c>InvokeComplete</c> reports an error, and read them through a
/// <see cref="PayloadChunkStream"/>: the body then fails after every byte the function sent before its error.
/// </para>
/// <code>
/// using var invoke = await lambda.InvokeWithResponseStreamAsync(new InvokeWithResponseStreamRequest
/// {
///     FunctionName = "my-function",
///     Payload = new MemoryStream(functionUrlEventJson),
/// });
/// await using var response = await LambdaHttpResponse.ReadAsync(new PayloadChunkStream(Chunks(invoke.EventStream)));
/// Console.WriteLine(response.StatusCode);
/// await response.Body.CopyToAsync(Console.OpenStandardOutput());
///
/// static async IAsyncEnumerable&lt;ReadOnlyMemory&lt;byte&gt;&gt; Chunks(InvokeWithResponseStreamResponseEvent events)
/// {
///     await foreach (var item in events)
///     {
///         if (item is InvokeResponseStreamUpdate chunk)
///         {
///             yield return chunk.Payload.ToArray();
///         }
///         else if (item is InvokeWithResponseStreamCompleteEvent { ErrorCode: { } code } complete)
///         {
///             throw new IOException($"The function failed: {code}: {complete.ErrorDetails}");
///         }
///     }
/// }
/// </code>
/// <para>
/// Lambda passes the bytes through untouched: a <c>Content-Length</c> or <c>Set-Cookie</c> in <c>headers</c> is read as
/// the function sent it. The reader checks the prelude's shape, not what the function chose to send.
/// </para>
/// </remarks>
public sealed class LambdaHttpResponse : IAsyncDisposable, IDisposable
{
    /// <summary>The most prelude bytes read while looking for its end (1 MiB); a longer one is refused.</summary>
    public const int MaxPreludeBytes = 1024 * 1024;

    private const int DelimiterBytes = 8;

    private LambdaHttpResponse(int statusCode, IReadOnlyDictionary<string, string> headers, IReadOnlyList<string> cookies, Stream body)
    {
        StatusCode = statusCode;
        Headers = headers;
        Cookies = cookies;
        Body = body;
    }

    /// <summary>The HTTP status code (<c>statusCode</c>; 200 when the prelude has none).</summary>
    public int StatusCode { get; }

    /// <summary>
    /// The headers (<c>headers</c>, names compared without regard to case). A REST API streaming prelude's
    /// <c>multiValueHeaders</c> are included, each header's values joined with <c>", "</c>.
    /// </summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The cookies (<c>cookies</c>): one <c>Set-Cookie</c> value each, in order.</summary>
    public IReadOnlyList<string> Cookies { get; }

    /// <summary>
    /// The body: what follows the prelude and its 8 NUL bytes, read from the payload as it arrives. Disposing the
    /// response (or the body) disposes the payload stream.
    /// </summary>
    public Stream Body { get; }

    /// <summary>Reads the prelude from the start of <paramref name="payload"/>, leaving the body to <see cref="Body"/>.</summary>
    /// <param name="payload">The payload bytes of an <c>InvokeWithResponseStream</c> call, from the first byte.</param>
    /// <param name="cancellationToken">Cancels the read of the prelude.</param>
    /// <returns>The response, its body not yet read.</returns>
    /// <exception cref="InvalidDataException">
    /// The payload is not an HTTP-streaming answer: it ends, or exceeds <see cref="MaxPreludeBytes"/>, before the 8 NUL
    /// bytes that end a prelude, or the prelude is not a JSON object of the expected shape. The message says which.
    /// </exception>
    public static async Task<LambdaHttpResponse> ReadAsync(Stream payload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var buffer = new byte[4096];
        var length = 0;
        var searchedUpTo = 0;
        while (true)
        {
            var delimiter = FindDelimiter(buffer.AsSpan(0, length), searchedUpTo);
            if (delimiter >= 0)
            {
                var (statusCode, headers, cookies) = ParsePrelude(buffer.AsSpan(0, delimiter));
                var rest = buffer.AsMemory((delimiter + DelimiterBytes)..length);
                return new LambdaHttpResponse(statusCode, headers, cookies, new PayloadBodyStream(rest, payload));
            }

            searchedUpTo = Math.Max(0, length - (DelimiterBytes - 1));
            if (length > MaxPreludeBytes)
            {
                throw new InvalidDataException(
                    $"No prelude end (8 NUL bytes) in the first {MaxPreludeBytes} bytes of the payload: the function does not stream an HTTP response, or its prelude is too large. The payload starts with: {Excerpt(buffer.AsSpan(0, length))}");
            }

            if (length == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var read = await payload.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new InvalidDataException(length == 0
                    ? "The payload is empty: an HTTP-streaming function's payload starts with its JSON prelude and 8 NUL bytes, even when the response has no body."
                    : $"The payload ended after {length} bytes without the 8 NUL bytes that end the prelude: the function does not stream an HTTP response (content type application/vnd.awslambda.http-integration-response), or the stream was cut. The payload starts with: {Excerpt(buffer.AsSpan(0, length))}");
            }

            length += read;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Body.DisposeAsync();

    /// <inheritdoc />
    public void Dispose() => Body.Dispose();

    private static int FindDelimiter(ReadOnlySpan<byte> bytes, int from)
    {
        ReadOnlySpan<byte> delimiter = [0, 0, 0, 0, 0, 0, 0, 0];
        var at = bytes[from..].IndexOf(delimiter);
        return at < 0 ? -1 : from + at;
    }

    private static (int StatusCode, Dictionary<string, string> Headers, List<string> Cookies) ParsePrelude(ReadOnlySpan<byte> prelude)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(prelude);
            document = JsonDocument.ParseValue(ref reader);
            if (reader.BytesConsumed != prelude.Length && !IsWhiteSpace(prelude[(int)reader.BytesConsumed..]))
            {
                document.Dispose();
                throw new InvalidDataException($"The prelude has bytes after its JSON object: {Excerpt(prelude)}");
            }
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The prelude is not valid JSON ({ex.Message}): {Excerpt(prelude)}", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"The prelude must be a JSON object {{\"statusCode\":…,\"headers\":{{…}},\"cookies\":[…]}}, not {root.ValueKind}: {Excerpt(prelude)}");
            }

            var statusCode = 200;
            if (root.TryGetProperty("statusCode", out var status) && status.ValueKind != JsonValueKind.Null)
            {
                var valid = status.ValueKind == JsonValueKind.Number
                    ? status.TryGetInt32(out statusCode)
                    : status.ValueKind == JsonValueKind.String && int.TryParse(status.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out statusCode);
                if (!valid || statusCode is < 100 or > 599)
                {
                    throw new InvalidDataException($"The prelude's statusCode must be a number from 100 to 599, not {status.GetRawText()}.");
                }
            }

            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (root.TryGetProperty("headers", out var single) && single.ValueKind != JsonValueKind.Null)
            {
                if (single.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException($"The prelude's headers must be an object of strings, not {single.ValueKind}.");
                }

                foreach (var header in single.EnumerateObject())
                {
                    Add(headers, header.Name, HeaderValue(header));
                }
            }

            if (root.TryGetProperty("multiValueHeaders", out var multi) && multi.ValueKind != JsonValueKind.Null)
            {
                if (multi.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException($"The prelude's multiValueHeaders must be an object of string arrays, not {multi.ValueKind}.");
                }

                foreach (var header in multi.EnumerateObject())
                {
                    if (header.Value.ValueKind != JsonValueKind.Array || header.Value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
                    {
                        throw new InvalidDataException($"The prelude's multiValueHeaders['{header.Name}'] must be an array of strings.");
                    }

                    foreach (var value in header.Value.EnumerateArray())
                    {
                        Add(headers, header.Name, value.GetString()!);
                    }
                }
            }

            var cookies = new List<string>();
            if (root.TryGetProperty("cookies", out var cookieArray) && cookieArray.ValueKind != JsonValueKind.Null)
            {
                if (cookieArray.ValueKind != JsonValueKind.Array || cookieArray.EnumerateArray().Any(c => c.ValueKind != JsonValueKind.String))
                {
                    throw new InvalidDataException("The prelude's cookies must be an array of strings (one Set-Cookie value each).");
                }

                cookies.AddRange(cookieArray.EnumerateArray().Select(c => c.GetString()!));
            }

            return (statusCode, headers, cookies);
        }
    }

    private static string HeaderValue(JsonProperty header) => header.Value.ValueKind switch
    {
        JsonValueKind.String => header.Value.GetString()!,
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => header.Value.GetRawText(),
        _ => throw new InvalidDataException($"The value of the prelude's header '{header.Name}' must be a string, not {header.Value.ValueKind}."),
    };

    private static void Add(Dictionary<string, string> headers, string name, string value) =>
        headers[name] = headers.TryGetValue(name, out var existing) ? $"{existing}, {value}" : value;

    private static bool IsWhiteSpace(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return false;
            }
        }

        return true;
    }

    private static string Excerpt(ReadOnlySpan<byte> bytes)
    {
        const int Shown = 200;
        var text = Encoding.UTF8.GetString(bytes[..Math.Min(bytes.Length, Shown)]);
        var printable = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            printable.Append(char.IsControl(c) ? '\uFFFD' : c);
        }

        return bytes.Length > Shown ? printable.Append('…').ToString() : printable.ToString();
    }
}
