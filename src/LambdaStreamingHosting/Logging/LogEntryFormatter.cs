using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Logging;

/// <summary>
/// Writes one log entry as one line (ending in <c>\n</c>, with no other line break in it), in Lambda's JSON log shape
/// or as tab-separated text:
/// <list type="bullet">
/// <item>JSON: <c>timestamp</c> (RFC 3339, UTC, milliseconds), <c>level</c> (Lambda's names), <c>requestId</c>,
/// <c>traceId</c> and <c>tenantId</c> of the invocation, <c>message</c> (formatted), <c>logger</c> (the category, as
/// AWS's Python runtime names it), the message template's named properties, and for an exception <c>errorType</c>,
/// <c>errorMessage</c> and <c>stackTrace</c> (its text, one array item per line), the field names AWS's runtimes use.
/// A template property named like one of these fields is left out (its value is in the message).</item>
/// <item>Text: <c>timestamp \t requestId \t LEVEL \t category: message</c>, then the exception; carriage returns and
/// line feeds inside are written as <c>\r</c> and <c>\n</c>.</item>
/// </list>
/// Nothing is allocated beyond what formatting needs (the exception's text, values that are not numbers, strings or
/// dates); the JSON writer is kept per thread.
/// </summary>
internal static class LogEntryFormatter
{
    private const int TimestampLength = 24;
    private const string OriginalFormat = "{OriginalFormat}";

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    [ThreadStatic]
    private static Utf8JsonWriter? t_json;

    /// <summary>Writes <paramref name="entry"/> as one line to <paramref name="output"/>.</summary>
    public static void Write(IBufferWriter<byte> output, LambdaLogFormat format, in LogEntry entry)
    {
        if (format == LambdaLogFormat.Json)
        {
            WriteJson(output, entry, sanitize: false);
        }
        else
        {
            WriteText(output, entry);
        }
    }

    /// <summary>
    /// Writes <paramref name="entry"/> as JSON, every string made valid UTF-16 first (a lone surrogate becomes U+FFFD)
    /// and without its template properties: the form written when the entry as given could not be (a property's
    /// <c>ToString</c> threw, or a string is not valid UTF-16).
    /// </summary>
    public static void WriteSafely(IBufferWriter<byte> output, LambdaLogFormat format, in LogEntry entry)
    {
        if (format == LambdaLogFormat.Json)
        {
            WriteJson(output, entry, sanitize: true);
        }
        else
        {
            WriteText(output, entry);
        }
    }

    /// <summary>Writes <paramref name="time"/> as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c> (UTC) into 24 bytes.</summary>
    public static void FormatTimestamp(DateTimeOffset time, Span<byte> destination)
    {
        var utc = time.UtcDateTime;
        utc.Deconstruct(out int year, out int month, out int day);
        WriteDigits(destination[..4], year);
        destination[4] = (byte)'-';
        WriteDigits(destination.Slice(5, 2), month);
        destination[7] = (byte)'-';
        WriteDigits(destination.Slice(8, 2), day);
        destination[10] = (byte)'T';
        WriteDigits(destination.Slice(11, 2), utc.Hour);
        destination[13] = (byte)':';
        WriteDigits(destination.Slice(14, 2), utc.Minute);
        destination[16] = (byte)':';
        WriteDigits(destination.Slice(17, 2), utc.Second);
        destination[19] = (byte)'.';
        WriteDigits(destination.Slice(20, 3), utc.Millisecond);
        destination[23] = (byte)'Z';
    }

    private static void WriteJson(IBufferWriter<byte> output, in LogEntry entry, bool sanitize)
    {
        // Taken out of the thread's slot while in use, so a value whose ToString logs gets a writer of its own.
        var json = t_json;
        t_json = null;
        if (json is null)
        {
            json = new Utf8JsonWriter(output, WriterOptions);
        }
        else
        {
            json.Reset(output);
        }

        try
        {
            WriteJsonObject(json, entry, sanitize);
        }
        finally
        {
            t_json = json;
        }

        output.Write("\n"u8);
    }

    private static void WriteJsonObject(Utf8JsonWriter json, in LogEntry entry, bool sanitize)
    {
        json.WriteStartObject();
        Span<byte> timestamp = stackalloc byte[TimestampLength];
        FormatTimestamp(entry.Timestamp, timestamp);
        json.WriteString("timestamp"u8, timestamp);
        json.WriteString("level"u8, LambdaLogLevels.Utf8Name(entry.Level));
        if (entry.Invocation is { } invocation)
        {
            json.WriteString("requestId"u8, Text(invocation.RequestId, sanitize));
            if (invocation.TraceId is { } traceId)
            {
                json.WriteString("traceId"u8, Text(traceId, sanitize));
            }

            if (invocation.TenantId is { } tenantId)
            {
                json.WriteString("tenantId"u8, Text(tenantId, sanitize));
            }
        }

        json.WriteString("message"u8, Text(entry.Message, sanitize));
        json.WriteString("logger"u8, entry.Category.Json);
        if (!sanitize && entry.Properties is { } properties)
        {
            WriteProperties(json, properties);
        }

        if (entry.Exception is { } exception)
        {
            json.WriteString("errorType"u8, exception.GetType().FullName);
            json.WriteString("errorMessage"u8, Text(exception.Message, sanitize));
            json.WriteStartArray("stackTrace"u8);
            foreach (var line in Text(exception.ToString(), sanitize).AsSpan().EnumerateLines())
            {
                var trimmed = line.Trim();
                if (!trimmed.IsEmpty)
                {
                    json.WriteStringValue(trimmed);
                }
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
        json.Flush();
    }

    private static void WriteProperties(Utf8JsonWriter json, IReadOnlyList<KeyValuePair<string, object?>> properties)
    {
        for (var i = 0; i < properties.Count; i++)
        {
            var (name, value) = properties[i];
            if (string.IsNullOrEmpty(name) || name == OriginalFormat || IsReserved(name))
            {
                continue;
            }

            json.WritePropertyName(name);
            WriteValue(json, value, nested: false);
        }
    }

    /// <summary>The fields of the entry itself, which a template property cannot replace.</summary>
    private static bool IsReserved(string name) => name switch
    {
        "timestamp" or "level" or "requestId" or "traceId" or "tenantId" or "message" or "logger" or "errorType" or "errorMessage" or "stackTrace" => true,
        _ => false,
    };

    private static void WriteValue(Utf8JsonWriter json, object? value, bool nested)
    {
        switch (value)
        {
            case null:
                json.WriteNullValue();
                break;
            case string text:
                json.WriteStringValue(text);
                break;
            case bool flag:
                json.WriteBooleanValue(flag);
                break;
            case int number:
                json.WriteNumberValue(number);
                break;
            case long number:
                json.WriteNumberValue(number);
                break;
            case double number when double.IsFinite(number):
                json.WriteNumberValue(number);
                break;
            case float number when float.IsFinite(number):
                json.WriteNumberValue(number);
                break;
            case decimal number:
                json.WriteNumberValue(number);
                break;
            case short number:
                json.WriteNumberValue(number);
                break;
            case byte number:
                json.WriteNumberValue(number);
                break;
            case uint number:
                json.WriteNumberValue(number);
                break;
            case ulong number:
                json.WriteNumberValue(number);
                break;
            case ushort number:
                json.WriteNumberValue(number);
                break;
            case sbyte number:
                json.WriteNumberValue(number);
                break;
            case DateTime time:
                json.WriteStringValue(time);
                break;
            case DateTimeOffset time:
                json.WriteStringValue(time);
                break;
            case Guid id:
                json.WriteStringValue(id);
                break;
            case byte[] bytes:
                json.WriteBase64StringValue(bytes);
                break;
            case IEnumerable items when !nested:
                json.WriteStartArray();
                foreach (var item in items)
                {
                    WriteValue(json, item, nested: true);
                }

                json.WriteEndArray();
                break;
            case ISpanFormattable formattable:
                Span<char> formatted = stackalloc char[128];
                if (formattable.TryFormat(formatted, out var written, default, CultureInfo.InvariantCulture))
                {
                    json.WriteStringValue(formatted[..written]);
                }
                else
                {
                    json.WriteStringValue(formattable.ToString(null, CultureInfo.InvariantCulture));
                }

                break;
            case IFormattable formattable:
                json.WriteStringValue(formattable.ToString(null, CultureInfo.InvariantCulture));
                break;
            default:
                json.WriteStringValue(value.ToString());
                break;
        }
    }

    private static void WriteText(IBufferWriter<byte> output, in LogEntry entry)
    {
        var head = output.GetSpan(TimestampLength + 1);
        FormatTimestamp(entry.Timestamp, head);
        head[TimestampLength] = (byte)'\t';
        output.Advance(TimestampLength + 1);
        if (entry.Invocation is { } invocation)
        {
            WriteEscaped(output, invocation.RequestId);
        }

        output.Write("\t"u8);
        output.Write(LambdaLogLevels.Utf8Name(entry.Level));
        output.Write("\t"u8);
        output.Write(entry.Category.Utf8);
        output.Write(": "u8);
        WriteEscaped(output, entry.Message);
        if (entry.Exception is { } exception)
        {
            if (entry.Message.Length > 0)
            {
                output.Write("\\n"u8);
            }

            WriteEscaped(output, exception.ToString());
        }

        output.Write("\n"u8);
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 with each carriage return and line feed as <c>\r</c> and <c>\n</c>.</summary>
    private static void WriteEscaped(IBufferWriter<byte> output, ReadOnlySpan<char> text)
    {
        while (true)
        {
            var lineBreak = text.IndexOfAny('\r', '\n');
            Encoding.UTF8.GetBytes(lineBreak < 0 ? text : text[..lineBreak], output);
            if (lineBreak < 0)
            {
                return;
            }

            output.Write(text[lineBreak] == '\n' ? "\\n"u8 : "\\r"u8);
            text = text[(lineBreak + 1)..];
        }
    }

    /// <summary><paramref name="text"/>, with lone surrogates replaced when <paramref name="sanitize"/> is set.</summary>
    private static string Text(string text, bool sanitize) => sanitize ? Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text)) : text;

    private static void WriteDigits(Span<byte> destination, int value)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }
}
