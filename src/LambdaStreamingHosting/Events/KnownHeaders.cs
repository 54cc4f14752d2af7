using System.Text;
using Microsoft.Net.Http.Headers;

namespace LambdaStreamingHosting.Events;

/// <summary>
/// Header names front ends send on most requests, recognised in the event bytes so that they cost no string, and the
/// last value seen for each, reused while requests keep sending the same one (Kestrel does both: known header names are
/// constants, and values equal to the previous request's are reused).
/// </summary>
/// <remarks>
/// Names of <see cref="HeaderNames"/> match in any case and take its spelling, as on Kestrel (the event's lower-case
/// <c>user-agent</c> becomes <c>User-Agent</c>); the front ends' own headers match only as spelled here and keep their
/// spelling. The value cache is one slot per header, read and written without locks: a slot holds an immutable string
/// that is used only when it equals the bytes at hand, so concurrent invocations can at worst miss. Values that differ
/// on every request (trace ids) or are secrets (credentials, cookies) are never kept.
/// </remarks>
internal static class KnownHeaders
{
    /// <summary>Longer values are not kept for reuse.</summary>
    private const int MaxReusedValueLength = 256;

    private static readonly Header[] All =
    [
        new(HeaderNames.Accept),
        new(HeaderNames.AcceptCharset),
        new(HeaderNames.AcceptEncoding),
        new(HeaderNames.AcceptLanguage),
        new(HeaderNames.Authorization, reuseValue: false),
        new(HeaderNames.CacheControl),
        new(HeaderNames.Connection),
        new(HeaderNames.ContentEncoding),
        new(HeaderNames.ContentLength),
        new(HeaderNames.ContentType),
        new(HeaderNames.Cookie, reuseValue: false),
        new(HeaderNames.Expect),
        new(HeaderNames.Host),
        new(HeaderNames.IfModifiedSince),
        new(HeaderNames.IfNoneMatch),
        new(HeaderNames.Origin),
        new(HeaderNames.Pragma),
        new(HeaderNames.Range),
        new(HeaderNames.Referer),
        new(HeaderNames.TraceParent, reuseValue: false),
        new(HeaderNames.TraceState, reuseValue: false),
        new(HeaderNames.UpgradeInsecureRequests),
        new(HeaderNames.UserAgent),
        new(HeaderNames.Via),
        new(HeaderNames.XRequestedWith),
        new("x-forwarded-for", exactCase: true),
        new("X-Forwarded-For", exactCase: true),
        new("x-forwarded-port", exactCase: true),
        new("X-Forwarded-Port", exactCase: true),
        new("x-forwarded-proto", exactCase: true),
        new("X-Forwarded-Proto", exactCase: true),
        new("x-amzn-trace-id", exactCase: true, reuseValue: false),
        new("X-Amzn-Trace-Id", exactCase: true, reuseValue: false),
        new("x-amzn-tls-version", exactCase: true),
        new("x-amzn-tls-cipher-suite", exactCase: true),
        new("sec-fetch-dest", exactCase: true),
        new("sec-fetch-mode", exactCase: true),
        new("sec-fetch-site", exactCase: true),
        new("sec-fetch-user", exactCase: true),
        new("sec-ch-ua", exactCase: true),
        new("sec-ch-ua-mobile", exactCase: true),
        new("sec-ch-ua-platform", exactCase: true),
        new("priority", exactCase: true),
    ];

    /// <summary>The headers of <see cref="All"/> by the length of their UTF-8 name.</summary>
    private static readonly Header[][] ByLength = GroupByLength();

    /// <summary>The known header named <paramref name="utf8Name"/>, or <see langword="null"/>.</summary>
    public static Header? Find(ReadOnlySpan<byte> utf8Name)
    {
        if (utf8Name.Length >= ByLength.Length)
        {
            return null;
        }

        foreach (var header in ByLength[utf8Name.Length])
        {
            if (header.IsNamed(utf8Name))
            {
                return header;
            }
        }

        return null;
    }

    /// <summary>The name of a header: a known header's constant, else a new string.</summary>
    public static string Name(ReadOnlySpan<byte> utf8Name) => Find(utf8Name)?.Name ?? Encoding.UTF8.GetString(utf8Name);

    private static Header[][] GroupByLength()
    {
        var longest = 0;
        foreach (var header in All)
        {
            longest = Math.Max(longest, header.Utf8Name.Length);
        }

        var byLength = new List<Header>[longest + 1];
        foreach (var header in All)
        {
            (byLength[header.Utf8Name.Length] ??= []).Add(header);
        }

        return Array.ConvertAll(byLength, headers => headers?.ToArray() ?? []);
    }

    /// <summary>One known header: its name, how it matches, and the last value seen.</summary>
    internal sealed class Header(string name, bool exactCase = false, bool reuseValue = true)
    {
        private string? _lastValue;

        /// <summary>The name the request's headers use.</summary>
        public string Name { get; } = name;

        /// <summary>The name's UTF-8 bytes.</summary>
        public byte[] Utf8Name { get; } = Encoding.ASCII.GetBytes(name);

        /// <summary>Whether <paramref name="utf8Name"/> names this header.</summary>
        public bool IsNamed(ReadOnlySpan<byte> utf8Name) =>
            exactCase ? utf8Name.SequenceEqual(Utf8Name) : Ascii.EqualsIgnoreCase(utf8Name, Utf8Name);

        /// <summary>The value as a string: the last one seen when it has the same text, else a new string (kept for next time).</summary>
        public string Value(ReadOnlySpan<byte> utf8Value)
        {
            if (!reuseValue || utf8Value.Length > MaxReusedValueLength)
            {
                return Encoding.UTF8.GetString(utf8Value);
            }

            var last = _lastValue;
            if (last is not null && Ascii.Equals(utf8Value, last))
            {
                return last;
            }

            var value = Encoding.UTF8.GetString(utf8Value);
            _lastValue = value;
            return value;
        }
    }
}
