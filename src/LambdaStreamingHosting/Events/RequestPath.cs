using System.Text;
using System.Text.Unicode;

namespace LambdaStreamingHosting.Events;

/// <summary>Turns a path as the front end passes it into <c>HttpRequest.Path</c>, the way Kestrel does.</summary>
internal static class RequestPath
{
    /// <summary>
    /// Percent-decodes <paramref name="rawPath"/> except <c>%2F</c>, which stays escaped so it cannot become a path
    /// separator; keeps invalid escapes verbatim; removes <c>.</c> and <c>..</c> segments. When the decoded bytes are not
    /// UTF-8 the path is kept undecoded (Kestrel would reject the request; an invocation cannot be refused so late).
    /// </summary>
    public static string Decode(string? rawPath)
    {
        if (string.IsNullOrEmpty(rawPath))
        {
            return "/";
        }

        var path = rawPath.Contains('%', StringComparison.Ordinal) ? PercentDecode(rawPath) : rawPath;
        if (path[0] != '/')
        {
            path = "/" + path;
        }

        return RemoveDotSegments(path);
    }

    private static string PercentDecode(string rawPath)
    {
        var source = Encoding.UTF8.GetBytes(rawPath);
        var decoded = new byte[source.Length];
        var length = 0;
        for (var i = 0; i < source.Length; i++)
        {
            if (source[i] == '%' && i + 2 < source.Length && TryHex(source[i + 1], source[i + 2], out var value) && value != '/')
            {
                decoded[length++] = value;
                i += 2;
            }
            else
            {
                // Not an escape, an invalid escape, or %2F: copied as it is.
                decoded[length++] = source[i];
            }
        }

        var span = decoded.AsSpan(0, length);
        return Utf8.IsValid(span) ? Encoding.UTF8.GetString(span) : rawPath;
    }

    private static bool TryHex(byte high, byte low, out byte value)
    {
        var h = HexValue(high);
        var l = HexValue(low);
        value = (byte)((h << 4) | l);
        return h >= 0 && l >= 0;
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>RFC 3986 §5.2.4 on a path that starts with <c>/</c>.</summary>
    private static string RemoveDotSegments(string path)
    {
        if (!path.Contains("/.", StringComparison.Ordinal))
        {
            return path;
        }

        var segments = path.Split('/');
        var output = new List<string>(segments.Length);
        for (var i = 1; i < segments.Length; i++)
        {
            var segment = segments[i];
            var isLast = i == segments.Length - 1;
            if (segment is "." or "..")
            {
                if (segment == ".." && output.Count > 0)
                {
                    output.RemoveAt(output.Count - 1);
                }

                if (isLast)
                {
                    // "/a/b/.." is "/a/": the directory the dot segment named.
                    output.Add("");
                }

                continue;
            }

            output.Add(segment);
        }

        return "/" + string.Join('/', output);
    }
}
