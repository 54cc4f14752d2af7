using System.Buffers;
using System.Text;
using LambdaStreamingHosting.Events;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Server;

/// <summary>Why a request is refused before the app runs.</summary>
internal enum RequestRefusalReason : byte
{
    /// <summary>Nothing: the request goes to the app.</summary>
    None,

    /// <summary>The request line is longer than <see cref="LambdaStreamingLimits.MaxRequestLineSize"/>: 414.</summary>
    RequestLineTooLong,

    /// <summary>The request target holds a NUL, raw or percent-encoded in the path: 400.</summary>
    InvalidRequestTarget,

    /// <summary>The header lines total more than <see cref="LambdaStreamingLimits.MaxRequestHeadersTotalSize"/>: 431.</summary>
    HeadersTooLarge,

    /// <summary>More header lines than <see cref="LambdaStreamingLimits.MaxRequestHeaderCount"/>: 431.</summary>
    TooManyHeaders,

    /// <summary>A header name or value holds a character Kestrel refuses: 400.</summary>
    InvalidHeader,
}

/// <summary>A request refused before the app runs (or <see cref="RequestRefusalReason.None"/>), and the header to blame.</summary>
internal readonly record struct RequestRefusal(RequestRefusalReason Reason, string? HeaderName = null)
{
    public bool IsRefused => Reason != RequestRefusalReason.None;

    /// <summary>Kestrel's status for the refusal: 414, 431 or 400.</summary>
    public int StatusCode => Reason switch
    {
        RequestRefusalReason.RequestLineTooLong => StatusCodes.Status414UriTooLong,
        RequestRefusalReason.HeadersTooLarge or RequestRefusalReason.TooManyHeaders => StatusCodes.Status431RequestHeaderFieldsTooLarge,
        _ => StatusCodes.Status400BadRequest,
    };
}

/// <summary>
/// Kestrel's request limits and header rules, applied to the request an event describes before the app sees it. The
/// request is measured as the HTTP/1.1 request that would bring the app the same request line and headers, byte for
/// byte as Kestrel counts it (<c>RequestLimitsTests</c> proves each rule on a real Kestrel):
/// <list type="bullet">
/// <item>the request line is <c>METHOD SP target SP HTTP/1.1 CRLF</c>, the target being <c>RawTarget</c> (path and
/// query): at most <see cref="LambdaStreamingLimits.MaxRequestLineSize"/> bytes, else 414;</item>
/// <item>each header value is one line <c>name: value CRLF</c>: at most
/// <see cref="LambdaStreamingLimits.MaxRequestHeaderCount"/> lines totalling at most
/// <see cref="LambdaStreamingLimits.MaxRequestHeadersTotalSize"/> bytes, else 431;</item>
/// <item>a header name with CR, LF, NUL, a space, a tab or a non-ASCII character, a header value with CR, LF or NUL, or
/// a NUL in the target (raw, or <c>%00</c> in the path) is 400.</item>
/// </list>
/// Lines are checked in order and the first rule a line breaks decides, as Kestrel decides while it parses. Nothing
/// is allocated unless the request is refused.
/// </summary>
internal static class RequestLimits
{
    /// <summary>Bytes of a header line besides its name and value: <c>": "</c> and CRLF.</summary>
    private const int HeaderLineOverhead = 4;

    /// <summary>Bytes of the request line besides method and target: two spaces, <c>HTTP/1.1</c> and CRLF.</summary>
    private const int RequestLineOverhead = 12;

    /// <summary>Longest header name quoted in a log entry.</summary>
    private const int LoggedNameChars = 64;

    private static readonly SearchValues<char> InvalidValueChars = SearchValues.Create("\r\n\0");

    /// <summary>What Kestrel accepts in a header name: ASCII, except NUL, CR, LF, space and tab.</summary>
    private static readonly SearchValues<char> ValidNameChars = SearchValues.Create(
        string.Concat(Enumerable.Range(1, 127).Select(c => (char)c).Where(c => c is not ('\r' or '\n' or ' ' or '\t'))));

    /// <summary>The first rule <paramref name="request"/> breaks, or <see cref="RequestRefusalReason.None"/>.</summary>
    public static RequestRefusal Check(LambdaHttpRequest request, LambdaStreamingLimits limits)
    {
        if (RequestLineBytes(request) > limits.MaxRequestLineSize)
        {
            return new(RequestRefusalReason.RequestLineTooLong);
        }

        var target = request.RawTargetParts;
        if (target.Path.Contains('\0', StringComparison.Ordinal) || target.Query.Contains('\0', StringComparison.Ordinal)
            || request.Path.Contains('\0', StringComparison.Ordinal) || request.PathBase.Contains('\0', StringComparison.Ordinal))
        {
            return new(RequestRefusalReason.InvalidRequestTarget);
        }

        var lines = 0;
        long bytes = 0;
        foreach (var header in request.Headers)
        {
            var name = header.Key;
            var nameBytes = Encoding.UTF8.GetByteCount(name) + HeaderLineOverhead;
            var validName = name.AsSpan().IndexOfAnyExcept(ValidNameChars) < 0;
            foreach (var value in header.Value)
            {
                if (value is null)
                {
                    continue;
                }

                bytes += nameBytes + Encoding.UTF8.GetByteCount(value);
                if (bytes > limits.MaxRequestHeadersTotalSize)
                {
                    return new(RequestRefusalReason.HeadersTooLarge);
                }

                if (++lines > limits.MaxRequestHeaderCount)
                {
                    return new(RequestRefusalReason.TooManyHeaders);
                }

                if (!validName || value.AsSpan().IndexOfAny(InvalidValueChars) >= 0)
                {
                    return new(RequestRefusalReason.InvalidHeader, name);
                }
            }
        }

        return default;
    }

    /// <summary>Logs a refusal with the limit that was hit, its value, and what the request measured.</summary>
    public static void LogRefusal(ILogger logger, LambdaHttpRequest request, RequestRefusal refusal, LambdaStreamingLimits limits)
    {
        switch (refusal.Reason)
        {
            case RequestRefusalReason.RequestLineTooLong:
                Log.RequestLineTooLong(logger, RequestLineBytes(request), limits.MaxRequestLineSize);
                break;
            case RequestRefusalReason.HeadersTooLarge:
            case RequestRefusalReason.TooManyHeaders:
                var (lines, bytes) = MeasureHeaders(request.Headers);
                if (refusal.Reason == RequestRefusalReason.HeadersTooLarge)
                {
                    Log.RequestHeadersTooLarge(logger, bytes, limits.MaxRequestHeadersTotalSize);
                }
                else
                {
                    Log.TooManyRequestHeaders(logger, lines, limits.MaxRequestHeaderCount);
                }

                break;
            case RequestRefusalReason.InvalidHeader:
                Log.InvalidRequestHeader(logger, Printable(refusal.HeaderName ?? ""));
                break;
            default:
                Log.InvalidRequestTarget(logger);
                break;
        }
    }

    /// <summary>Bytes of <c>METHOD SP target SP HTTP/1.1 CRLF</c>.</summary>
    private static int RequestLineBytes(LambdaHttpRequest request)
    {
        var (path, query) = request.RawTargetParts;
        return request.Method.Length + Encoding.UTF8.GetByteCount(path) + Encoding.UTF8.GetByteCount(query) + RequestLineOverhead;
    }

    /// <summary>Every header line and their bytes, for the log (the check itself stops at the first line over a limit).</summary>
    private static (int Lines, long Bytes) MeasureHeaders(HeaderDictionary headers)
    {
        var lines = 0;
        long bytes = 0;
        foreach (var header in headers)
        {
            foreach (var value in header.Value)
            {
                if (value is not null)
                {
                    lines++;
                    bytes += Encoding.UTF8.GetByteCount(header.Key) + HeaderLineOverhead + Encoding.UTF8.GetByteCount(value);
                }
            }
        }

        return (lines, bytes);
    }

    /// <summary>A header name fit for one log line: control and non-ASCII characters escaped, long names cut.</summary>
    private static string Printable(string name)
    {
        var builder = new StringBuilder(Math.Min(name.Length, LoggedNameChars) + 8);
        foreach (var c in name.Length > LoggedNameChars ? name.AsSpan(0, LoggedNameChars) : name)
        {
            if (c is >= ' ' and < (char)0x7F)
            {
                builder.Append(c);
            }
            else
            {
                builder.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return name.Length > LoggedNameChars ? builder.Append('…').ToString() : builder.ToString();
    }
}
