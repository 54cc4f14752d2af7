using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace LambdaStreamingHosting.Events;

/// <summary>
/// Reads the event's <c>headers</c> (one string per name) or <c>multiValueHeaders</c> (an array per name) straight into
/// the request's <see cref="HeaderDictionary"/>: known names cost no string (<see cref="KnownHeaders"/>), null values and
/// empty names are left out.
/// </summary>
/// <remarks>
/// A name the event sends twice (JSON allows it) keeps its last value, and names that differ only in case add up into
/// one header with every value, first spelling first. The single pass below sees a repeated name only when it meets it
/// again; it then starts over on the slow path, which reads every name first.
/// </remarks>
internal static class RequestHeaders
{
    /// <summary>Header names longer than this are unescaped into a new array rather than on the stack.</summary>
    private const int StackNameBytes = 128;

    /// <summary>
    /// The request headers from an object of strings (<paramref name="multiValue"/>: of arrays of strings), read into
    /// the empty <paramref name="result"/>. A <paramref name="cookie"/> replaces the value of the <c>Cookie</c> header
    /// (in its place), without reading it; the caller still sets it when the event has none.
    /// </summary>
    public static HeaderDictionary Read(ReadOnlySpan<byte> json, JsonSlice headers, bool multiValue, HeaderDictionary result, string? cookie = null)
    {
        if (!headers.IsPresent)
        {
            return result;
        }

        Span<byte> nameScratch = stackalloc byte[StackNameBytes];
        var reader = headers.ReaderOnContainer(json);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var utf8Name = Unescape(in reader, nameScratch);
            var known = KnownHeaders.Find(utf8Name);
            reader.Read();
            if (utf8Name.IsEmpty)
            {
                reader.Skip();
                continue;
            }

            var name = known?.Name ?? Encoding.UTF8.GetString(utf8Name);
            if (result.ContainsKey(name))
            {
                return ReadRepeatedNames(json, headers, multiValue, result);
            }

            if (cookie is not null && ReferenceEquals(name, HeaderNames.Cookie))
            {
                if (reader.TokenType == JsonTokenType.String && !reader.ValueSpan.IsEmpty)
                {
                    result[name] = cookie;
                }
            }
            else if (multiValue)
            {
                result.Append(name, Values(ref reader, known));
            }
            else if (reader.TokenType == JsonTokenType.String)
            {
                var value = Value(ref reader, known);
                if (value.Length > 0)
                {
                    result[name] = value;
                }
            }
        }

        return result;
    }

    /// <summary>The slow path for events that repeat a name: last value per exact name, then merged by name in any case.</summary>
    private static HeaderDictionary ReadRepeatedNames(ReadOnlySpan<byte> json, JsonSlice headers, bool multiValue, HeaderDictionary result)
    {
        var byExactName = new Dictionary<string, StringValues?>(StringComparer.Ordinal);
        var reader = headers.ReaderOnContainer(json);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            byExactName[name] = reader.TokenType == JsonTokenType.Null ? null
                : multiValue ? Values(ref reader, known: null)
                : reader.GetString();
        }

        result.Clear();
        foreach (var (name, values) in byExactName)
        {
            if (values is { } present && name.Length > 0)
            {
                result.Append(KnownHeaders.Find(Encoding.UTF8.GetBytes(name))?.Name ?? name, present);
            }
        }

        return result;
    }

    /// <summary>The non-null strings of the array under the reader (nothing for null), as one string when there is one.</summary>
    private static StringValues Values(ref Utf8JsonReader reader, KnownHeaders.Header? known)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return default;
        }

        var ahead = reader;
        var count = 0;
        while (ahead.Read() && ahead.TokenType != JsonTokenType.EndArray)
        {
            count += ahead.TokenType == JsonTokenType.String ? 1 : 0;
        }

        if (count == 1)
        {
            string? single = null;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                single ??= reader.TokenType == JsonTokenType.String ? Value(ref reader, known) : null;
            }

            return single;
        }

        var values = new string[count];
        var i = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                values[i++] = Value(ref reader, known);
            }
        }

        return values;
    }

    private static string Value(ref Utf8JsonReader reader, KnownHeaders.Header? known)
    {
        if (known is null || reader.ValueIsEscaped)
        {
            return reader.GetString()!;
        }

        return known.Value(reader.ValueSpan);
    }

    private static ReadOnlySpan<byte> Unescape(in Utf8JsonReader reader, Span<byte> scratch)
    {
        if (!reader.ValueIsEscaped)
        {
            return reader.ValueSpan;
        }

        var destination = reader.ValueSpan.Length <= scratch.Length ? scratch : new byte[reader.ValueSpan.Length];
        return destination[..reader.CopyString(destination)];
    }
}
