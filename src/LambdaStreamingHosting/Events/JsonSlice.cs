using System.Text;
using System.Text.Json;

namespace LambdaStreamingHosting.Events;

/// <summary>
/// Where one value of the event sits in the event bytes, remembered by <see cref="EventParser"/> so that only the values
/// a request needs become strings, and only once the event's shape is known. The default is an absent (or JSON
/// <c>null</c>) value. A string's slice is its text between the quotes, still escaped when <see cref="IsEscaped"/>; an
/// object's or array's slice is the whole value, brackets included, with <see cref="Count"/> members.
/// </summary>
internal readonly record struct JsonSlice(int Start, int Length, int Count, bool IsEscaped)
{
    /// <summary>Whether the value is there and not <c>null</c>.</summary>
    public bool IsPresent => Length > 0 || Count < 0;

    /// <summary>A string value's slice (<paramref name="reader"/> is on the string).</summary>
    public static JsonSlice OfString(ref readonly Utf8JsonReader reader) =>
        new(checked((int)reader.TokenStartIndex) + 1, reader.ValueSpan.Length, Count: -1, reader.ValueIsEscaped);

    /// <summary>An object's or array's slice, from its first token to <paramref name="end"/> (just after its last).</summary>
    public static JsonSlice OfContainer(int start, long end, int count) => new(start, checked((int)end) - start, count, IsEscaped: false);

    /// <summary>A string value's bytes as they are in the event (escape sequences not yet resolved).</summary>
    public ReadOnlySpan<byte> Raw(ReadOnlySpan<byte> json) => json.Slice(Start, Length);

    /// <summary>A string value as a .NET string, <see langword="null"/> when absent.</summary>
    public string? GetString(ReadOnlySpan<byte> json)
    {
        if (!IsPresent)
        {
            return null;
        }

        if (!IsEscaped)
        {
            // The parser checked that the text is UTF-8.
            return Encoding.UTF8.GetString(Raw(json));
        }

        var reader = ReaderOnString(json);
        return reader.GetString();
    }

    /// <summary>Whether a present string value is <paramref name="utf8"/>, compared after unescaping.</summary>
    public bool TextEquals(ReadOnlySpan<byte> json, ReadOnlySpan<byte> utf8)
    {
        if (!IsPresent)
        {
            return false;
        }

        if (!IsEscaped)
        {
            return Raw(json).SequenceEqual(utf8);
        }

        var reader = ReaderOnString(json);
        return reader.ValueTextEquals(utf8);
    }

    /// <summary>
    /// A present string value's unescaped UTF-8 bytes: the event's own bytes when nothing is escaped, else copied into
    /// <paramref name="scratch"/> when they fit, else a new array.
    /// </summary>
    public ReadOnlySpan<byte> Unescaped(ReadOnlySpan<byte> json, Span<byte> scratch)
    {
        if (!IsEscaped)
        {
            return Raw(json);
        }

        var reader = ReaderOnString(json);
        if (Length <= scratch.Length)
        {
            // Unescaping only shortens.
            return scratch[..reader.CopyString(scratch)];
        }

        var bytes = new byte[Length];
        return bytes.AsSpan(0, reader.CopyString(bytes));
    }

    /// <summary>A reader on this object or array (the next <c>Read</c> returns its first token).</summary>
    public Utf8JsonReader ReaderOnContainer(ReadOnlySpan<byte> json) => new(json.Slice(Start, Length));

    private Utf8JsonReader ReaderOnString(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json.Slice(Start - 1, Length + 2));
        reader.Read();
        return reader;
    }
}
