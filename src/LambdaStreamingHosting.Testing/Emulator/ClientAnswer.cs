using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// The client response a function's answer (a streamed prelude or a buffered document) describes, read leniently where
/// Lambda is lenient and refused where Lambda refuses, each refusal recorded as a protocol violation.
/// </summary>
internal sealed class ClientAnswer(EmulatedInvocation invocation, bool streaming)
{
    public int StatusCode { get; set; } = StatusCodes.Status200OK;

    public string? ReasonPhrase { get; set; }

    public List<KeyValuePair<string, string>> Headers { get; } = [];

    public List<string> Cookies { get; } = [];

    public byte[] Body { get; set; } = [];

    /// <summary>Why the answer is refused (the client gets an error instead), when it is.</summary>
    public InvocationFailure? Failure { get; private set; }

    /// <summary>Sets <see cref="Failure"/> (when not null) and returns this answer.</summary>
    public ClientAnswer Failed(InvocationFailure? failure)
    {
        Failure ??= failure;
        return this;
    }

    /// <summary>Records a violation Lambda itself refuses (the client gets <paramref name="status"/>).</summary>
    public InvocationFailure Refuse(string message, int status = StatusCodes.Status502BadGateway)
    {
        invocation.Violation(message);
        return new InvocationFailure(EmulatorErrorTypes.ProtocolViolation, message, status);
    }

    /// <summary>Records a violation Lambda tolerates; in strict mode it fails the invocation.</summary>
    public InvocationFailure? Flag(string message) =>
        invocation.Violation(message) ? new InvocationFailure(EmulatorErrorTypes.ProtocolViolation, message) : null;

    public InvocationFailure? ReadStatusCode(JsonElement document, bool required)
    {
        if (!document.TryGetProperty("statusCode", out var status))
        {
            return required ? Refuse("The answer has no statusCode.") : null;
        }

        if (status.ValueKind == JsonValueKind.Number && status.TryGetInt32(out var code) && code is >= 100 and <= 599)
        {
            StatusCode = code;
            return null;
        }

        // API Gateway also accepts the status code as a string of digits.
        if (status.ValueKind == JsonValueKind.String && int.TryParse(status.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out code) && code is >= 100 and <= 599)
        {
            StatusCode = code;
            return null;
        }

        return Refuse($"statusCode must be a number from 100 to 599, not {status.GetRawText()}.");
    }

    public InvocationFailure? ReadHeaders(JsonElement document)
    {
        if (!document.TryGetProperty("headers", out var headers) || headers.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (headers.ValueKind != JsonValueKind.Object)
        {
            return Refuse($"headers must be an object of strings, not {headers.ValueKind}.");
        }

        foreach (var header in headers.EnumerateObject())
        {
            // Payload 2.0 has 'cookies'; a Set-Cookie header there is joined with others and breaks.
            if (document.TryGetProperty("cookies", out _) || invocation.Door is PayloadV2Door)
            {
                if (header.Name.Equals("Set-Cookie", StringComparison.OrdinalIgnoreCase) &&
                    Flag("Set-Cookie was sent in headers; send each cookie as an entry of 'cookies' instead (Lambda joins header values and breaks cookies).") is { } failure)
                {
                    return failure;
                }
            }

            if (header.Value.ValueKind == JsonValueKind.String)
            {
                Headers.Add(new(header.Name, header.Value.GetString()!));
            }
            else if (header.Value.ValueKind is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
            {
                Headers.Add(new(header.Name, header.Value.GetRawText()));
            }
            else
            {
                return Refuse($"The value of header '{header.Name}' must be a string, not {header.Value.ValueKind}.");
            }
        }

        return null;
    }

    public InvocationFailure? ReadMultiValueHeaders(JsonElement document)
    {
        if (!document.TryGetProperty("multiValueHeaders", out var headers) || headers.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (headers.ValueKind != JsonValueKind.Object)
        {
            return Refuse($"multiValueHeaders must be an object of string arrays, not {headers.ValueKind}.");
        }

        foreach (var header in headers.EnumerateObject())
        {
            if (header.Value.ValueKind != JsonValueKind.Array)
            {
                return Refuse($"multiValueHeaders['{header.Name}'] must be an array of strings.");
            }

            foreach (var value in header.Value.EnumerateArray())
            {
                if (value.ValueKind != JsonValueKind.String)
                {
                    return Refuse($"multiValueHeaders['{header.Name}'] must hold only strings.");
                }

                Headers.Add(new(header.Name, value.GetString()!));
            }
        }

        return null;
    }

    public InvocationFailure? ReadCookies(JsonElement document)
    {
        if (!document.TryGetProperty("cookies", out var cookies) || cookies.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (cookies.ValueKind != JsonValueKind.Array || cookies.EnumerateArray().Any(c => c.ValueKind != JsonValueKind.String))
        {
            return Refuse("cookies must be an array of strings (one Set-Cookie value each).");
        }

        Cookies.AddRange(cookies.EnumerateArray().Select(c => c.GetString()!));
        return null;
    }

    /// <summary>Reads <c>body</c> and <c>isBase64Encoded</c> of a buffered answer.</summary>
    public InvocationFailure? ReadBody(JsonElement document)
    {
        if (!document.TryGetProperty("body", out var body) || body.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (body.ValueKind != JsonValueKind.String)
        {
            return Refuse($"body must be a string, not {body.ValueKind}.");
        }

        var base64 = document.TryGetProperty("isBase64Encoded", out var flag) && flag.ValueKind == JsonValueKind.True;
        if (!base64)
        {
            Body = Encoding.UTF8.GetBytes(body.GetString()!);
            return null;
        }

        try
        {
            Body = Convert.FromBase64String(body.GetString()!);
            return null;
        }
        catch (FormatException)
        {
            return Refuse("isBase64Encoded is true but body is not valid base64.");
        }
    }

    /// <summary>Sets status and headers on the client response (and, when buffered, the body's length).</summary>
    public InvocationFailure? Apply()
    {
        var response = invocation.Client.Response;
        var headers = new List<KeyValuePair<string, string>>(Headers.Count);
        foreach (var (name, value) in Headers)
        {
            if (!IsToken(name))
            {
                return Refuse($"'{name}' is not a valid header name.");
            }

            if (!IsFieldValue(value))
            {
                return Refuse($"The value of header '{name}' holds a control or non-ASCII character (CR, LF, NUL…): header injection.");
            }

            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                if (streaming)
                {
                    return Refuse($"The prelude sets '{name}': Lambda answers 502 to a streamed response that declares its own framing. Remove it from the prelude.");
                }

                headers.Add(new("x-amzn-Remapped-" + name, value));
                continue;
            }

            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase) || name.Equals("Server", StringComparison.OrdinalIgnoreCase))
            {
                headers.Add(new("x-amzn-Remapped-" + name, value));
                continue;
            }

            headers.Add(new(name, value));
        }

        foreach (var cookie in Cookies)
        {
            if (!IsFieldValue(cookie))
            {
                return Refuse("A cookie holds a control or non-ASCII character (CR, LF, NUL…): header injection.");
            }
        }

        response.StatusCode = StatusCode;
        if (ReasonPhrase is not null)
        {
            invocation.Client.Features.Get<IHttpResponseFeature>()!.ReasonPhrase = ReasonPhrase;
        }

        foreach (var (name, value) in headers)
        {
            response.Headers.Append(name, value);
        }

        foreach (var cookie in Cookies)
        {
            response.Headers.Append("Set-Cookie", cookie);
        }

        return null;
    }

    /// <summary>Applies the answer and writes its body (buffered answers); returns the failure, if any.</summary>
    public async Task<InvocationFailure?> WriteAsync(CancellationToken cancellationToken)
    {
        if ((Failure ?? Apply()) is { } failure)
        {
            return failure;
        }

        invocation.Client.Response.ContentLength = Body.Length;
        var client = new ClientStream(invocation, null);
        await client.WriteAsync(new ReadOnlySequence<byte>(Body), cancellationToken);
        await client.FlushAsync(cancellationToken);
        return null;
    }

    private static bool IsToken(string name) =>
        name.Length > 0 && name.All(c => c is > ' ' and < '\u007f' && "\"(),/:;<=>?@[\\]{}".IndexOf(c, StringComparison.Ordinal) < 0);

    private static bool IsFieldValue(string value) => value.All(c => c == '\t' || (c >= ' ' && c < '\u007f'));
}
