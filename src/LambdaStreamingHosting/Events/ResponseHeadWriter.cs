using System.Buffers;
using System.Collections.Frozen;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace LambdaStreamingHosting.Events;

/// <summary>
/// Writes the status and headers of a response in the shape its front end expects, shared by the streaming prelude and
/// the buffered document. Rejects what could corrupt the answer the way Kestrel does.
/// </summary>
internal static class ResponseHeadWriter
{
    /// <summary>JSON for the wire: only what JSON itself requires is escaped (no HTML-safe escaping).</summary>
    public static readonly JsonWriterOptions JsonOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    // Where a cached writer points while nobody uses it, so it holds on to no response's buffer (writes nothing).
    private static readonly ArrayBufferWriter<byte> Detached = new();

    // One writer per thread, reused by every response written on it (see RentJsonWriter).
    [ThreadStatic]
    private static Utf8JsonWriter? t_jsonWriter;

    // Framing is the front end's business: these would be wrong (Content-Length, Transfer-Encoding break the URL's
    // answer with a 502) or meaningless (hop-by-hop) in a Lambda response.
    private static readonly FrozenSet<string> DroppedHeaders = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
        HeaderNames.ContentLength, HeaderNames.TransferEncoding, HeaderNames.Connection, HeaderNames.KeepAlive,
        HeaderNames.Upgrade, HeaderNames.ProxyConnection, HeaderNames.TE, HeaderNames.Trailer);

    // RFC 9110 token characters.
    private static readonly SearchValues<char> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    // Visible ASCII, space and tab: what Kestrel accepts in a response header value by default.
    private static readonly SearchValues<char> ValueChars = SearchValues.Create(
        "\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    /// <summary>
    /// A <see cref="Utf8JsonWriter"/> with <see cref="JsonOptions"/> writing to <paramref name="output"/>: the thread's
    /// cached writer when it is free, so writing a response allocates no writer. Give it back with
    /// <see cref="ReturnJsonWriter"/> (also after a failure); do not dispose it.
    /// </summary>
    public static Utf8JsonWriter RentJsonWriter(IBufferWriter<byte> output)
    {
        var writer = t_jsonWriter;
        if (writer is null)
        {
            return new Utf8JsonWriter(output, JsonOptions);
        }

        t_jsonWriter = null;
        writer.Reset(output);
        return writer;
    }

    /// <summary>Caches a writer from <see cref="RentJsonWriter"/> for the next response on this thread.</summary>
    public static void ReturnJsonWriter(Utf8JsonWriter writer)
    {
        writer.Reset(Detached);
        t_jsonWriter = writer;
    }

    /// <summary>
    /// Checks the status code and every header that would be sent, so a writer can fail before writing anything.
    /// </summary>
    /// <exception cref="InvalidOperationException">Invalid status code, header name or header value.</exception>
    public static void Validate(int statusCode, IHeaderDictionary headers)
    {
        if (statusCode is < 100 or > 599)
        {
            throw new InvalidOperationException($"Invalid status code {statusCode}: a Lambda HTTP response needs a status code from 100 to 599.");
        }

        foreach (var header in new HeaderEnumerable(headers))
        {
            if (!IsSent(header))
            {
                continue;
            }

            ValidateName(header.Key);
            foreach (var value in header.Value)
            {
                ValidateValue(header.Key, value);
            }
        }
    }

    /// <summary>
    /// Writes <c>statusCode</c>, <c>statusDescription</c> (ALB), and <c>headers</c>/<c>cookies</c> (payload 2.0),
    /// <c>headers</c> (single-value ALB) or <c>multiValueHeaders</c> (REST, multi-value ALB) into the open object.
    /// Call <see cref="Validate"/> first.
    /// </summary>
    public static void Write(Utf8JsonWriter writer, ResponseShape shape, int statusCode, IHeaderDictionary headers)
    {
        writer.WriteNumber("statusCode", statusCode);
        if (shape is ResponseShape.AlbSingleValue or ResponseShape.AlbMultiValue)
        {
            var reason = ReasonPhrases.GetReasonPhrase(statusCode);
            writer.WriteString("statusDescription", reason.Length == 0 ? $"{statusCode}" : $"{statusCode} {reason}");
        }

        switch (shape)
        {
            case ResponseShape.PayloadV2:
                WriteSingleValueHeaders(writer, headers, cookiesSeparately: true);
                WriteCookies(writer, headers);
                break;
            case ResponseShape.AlbSingleValue:
                WriteSingleValueHeaders(writer, headers, cookiesSeparately: false);
                break;
            default:
                WriteMultiValueHeaders(writer, headers);
                break;
        }
    }

    /// <summary>Whether the header goes into the answer: framing and hop-by-hop headers and empty ones do not.</summary>
    private static bool IsSent(KeyValuePair<string, StringValues> header) =>
        !DroppedHeaders.Contains(header.Key) && !StringValues.IsNullOrEmpty(header.Value);

    private static void WriteSingleValueHeaders(Utf8JsonWriter writer, IHeaderDictionary headers, bool cookiesSeparately)
    {
        writer.WriteStartObject("headers");
        foreach (var header in new HeaderEnumerable(headers))
        {
            if (!IsSent(header))
            {
                continue;
            }

            var values = header.Value;
            var isSetCookie = string.Equals(header.Key, HeaderNames.SetCookie, StringComparison.OrdinalIgnoreCase);
            if (isSetCookie && cookiesSeparately)
            {
                continue;
            }

            // Joined values would merge cookies (their Expires dates hold commas): only the last Set-Cookie survives in a
            // single-value ALB answer. Enable multi-value headers on the target group to send them all.
            writer.WriteString(header.Key, values.Count == 1 ? values[0] : isSetCookie ? values[^1] : string.Join(", ", values.Where(v => v is not null)));
        }

        writer.WriteEndObject();
    }

    private static void WriteCookies(Utf8JsonWriter writer, IHeaderDictionary headers)
    {
        if (!headers.TryGetValue(HeaderNames.SetCookie, out var cookies) || StringValues.IsNullOrEmpty(cookies))
        {
            return;
        }

        writer.WriteStartArray("cookies");
        foreach (var cookie in cookies)
        {
            if (cookie is not null)
            {
                writer.WriteStringValue(cookie);
            }
        }

        writer.WriteEndArray();
    }

    private static void WriteMultiValueHeaders(Utf8JsonWriter writer, IHeaderDictionary headers)
    {
        writer.WriteStartObject("multiValueHeaders");
        foreach (var header in new HeaderEnumerable(headers))
        {
            if (!IsSent(header))
            {
                continue;
            }

            var values = header.Value;

            writer.WriteStartArray(header.Key);
            foreach (var value in values)
            {
                if (value is not null)
                {
                    writer.WriteStringValue(value);
                }
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
    }

    /// <summary>
    /// Enumerates headers through <see cref="HeaderDictionary"/>'s struct enumerator when they are one (ours always
    /// are), instead of a boxed enumerator through the interface.
    /// </summary>
    private struct HeaderEnumerable
    {
        private readonly IEnumerator<KeyValuePair<string, StringValues>>? _other;
        private HeaderDictionary.Enumerator _dictionary;

        public HeaderEnumerable(IHeaderDictionary headers)
        {
            if (headers is HeaderDictionary dictionary)
            {
                _dictionary = dictionary.GetEnumerator();
            }
            else
            {
                _other = headers.GetEnumerator();
            }
        }

        public readonly KeyValuePair<string, StringValues> Current => _other is null ? _dictionary.Current : _other.Current;

        public readonly HeaderEnumerable GetEnumerator() => this;

        public bool MoveNext() => _other?.MoveNext() ?? _dictionary.MoveNext();
    }

    private static void ValidateName(string name)
    {
        if (name.Length == 0)
        {
            throw new InvalidOperationException("Header name cannot be empty.");
        }

        var invalid = name.AsSpan().IndexOfAnyExcept(TokenChars);
        if (invalid >= 0)
        {
            throw new InvalidOperationException($"Invalid character in header name: 0x{(int)name[invalid]:X2}.");
        }
    }

    private static void ValidateValue(string name, string? value)
    {
        var invalid = value.AsSpan().IndexOfAnyExcept(ValueChars);
        if (invalid >= 0)
        {
            var c = value![invalid];
            throw new InvalidOperationException(c < 0x20 || c == 0x7F
                ? $"Invalid control character in header value: 0x{(int)c:X2} (header '{name}')."
                : $"Invalid non-ASCII character in header value: 0x{(int)c:X4} (header '{name}').");
        }
    }
}
