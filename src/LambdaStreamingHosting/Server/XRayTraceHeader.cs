using System.Buffers;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// Reads an X-Ray trace header (<c>Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1</c>, the
/// <c>Lambda-Runtime-Trace-Id</c> of an invocation) as a W3C <c>traceparent</c>: the root's 8 + 24 hex digits are the
/// trace id, <c>Parent</c> the parent span id, <c>Sampled=1</c> the sampled flag.
/// </summary>
internal static class XRayTraceHeader
{
    private const int RootLength = 35; // 1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy
    private const int ParentLength = 16;
    private static readonly SearchValues<char> HexDigits = SearchValues.Create("0123456789abcdefABCDEF");

    /// <summary>
    /// The <c>traceparent</c> (<c>00-{trace id}-{parent id}-{flags}</c>) for <paramref name="header"/>, or
    /// <see langword="null"/> when it has no valid <c>Root</c> and <c>Parent</c>.
    /// </summary>
    public static string? ToTraceParent(string? header)
    {
        if (string.IsNullOrEmpty(header))
        {
            return null;
        }

        ReadOnlySpan<char> root = default, parent = default;
        var sampled = false;
        foreach (var range in header.AsSpan().Split(';'))
        {
            var field = header.AsSpan(range).Trim();
            var equals = field.IndexOf('=');
            if (equals <= 0)
            {
                continue;
            }

            var key = field[..equals].Trim();
            var value = field[(equals + 1)..].Trim();
            if (key.SequenceEqual("Root"))
            {
                root = value;
            }
            else if (key.SequenceEqual("Parent"))
            {
                parent = value;
            }
            else if (key.SequenceEqual("Sampled"))
            {
                sampled = value.SequenceEqual("1");
            }
        }

        if (root.Length != RootLength || !root.StartsWith("1-") || root[10] != '-'
            || !IsHex(root[2..10]) || !IsHex(root[11..]) || parent.Length != ParentLength || !IsHex(parent)
            || IsZero(root[2..10], root[11..]) || IsZero(parent, default))
        {
            return null;
        }

        // 00-{32}-{16}-{2}
        Span<char> traceParent = stackalloc char[55];
        "00-".CopyTo(traceParent);
        ToLower(root[2..10], traceParent[3..]);
        ToLower(root[11..], traceParent[11..]);
        traceParent[35] = '-';
        ToLower(parent, traceParent[36..]);
        traceParent[52] = '-';
        traceParent[53] = '0';
        traceParent[54] = sampled ? '1' : '0';
        return new string(traceParent);
    }

    private static bool IsHex(ReadOnlySpan<char> value) => !value.ContainsAnyExcept(HexDigits);

    private static bool IsZero(ReadOnlySpan<char> first, ReadOnlySpan<char> second) =>
        !first.ContainsAnyExcept('0') && !second.ContainsAnyExcept('0');

    private static void ToLower(ReadOnlySpan<char> hex, Span<char> destination)
    {
        for (var i = 0; i < hex.Length; i++)
        {
            destination[i] = char.ToLowerInvariant(hex[i]);
        }
    }
}
