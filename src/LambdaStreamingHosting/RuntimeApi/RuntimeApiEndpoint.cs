using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// Where the Lambda Runtime API listens: <c>AWS_LAMBDA_RUNTIME_API</c> is <c>host:port</c>; some local tools append a
/// path (<c>127.0.0.1:5050/fn</c>), which becomes a prefix of every request path.
/// </summary>
internal sealed class RuntimeApiEndpoint
{
    /// <summary>The protocol version segment every Runtime API path starts with.</summary>
    public const string ApiVersion = "2018-06-01";

    private RuntimeApiEndpoint(string host, int port, string pathPrefix)
    {
        Host = host;
        Port = port;
        PathPrefix = pathPrefix;
        HostHeader = port == 80 ? FormatHost(host) : FormatHost(host) + ":" + port.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Host name or IP address (IPv6 without brackets).</summary>
    public string Host { get; }

    /// <summary>TCP port (80 when the value names none).</summary>
    public int Port { get; }

    /// <summary>The path before <c>/2018-06-01</c>: "" or a path starting with <c>/</c> and not ending with one.</summary>
    public string PathPrefix { get; }

    /// <summary>The value of the <c>Host</c> request header.</summary>
    public string HostHeader { get; }

    /// <summary>The base URL of the API, for logs: <c>http://host:port/prefix/2018-06-01</c>.</summary>
    public string BaseUrl => "http://" + HostHeader + PathPrefix + "/" + ApiVersion;

    /// <summary>The request target for a Runtime API path such as <c>runtime/invocation/next</c>.</summary>
    public string Target(string apiPath) => PathPrefix + "/" + ApiVersion + "/" + apiPath;

    /// <summary>Parses <paramref name="value"/>, throwing <see cref="FormatException"/> with a message naming what is wrong.</summary>
    public static RuntimeApiEndpoint Parse(string? value) =>
        TryParse(value, out var endpoint, out var error) ? endpoint : throw new FormatException(error);

    /// <summary>Parses <c>host:port[/path]</c> (an <c>http://</c> prefix and a trailing <c>/2018-06-01</c> are tolerated).</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out RuntimeApiEndpoint? endpoint, [NotNullWhen(false)] out string? error)
    {
        endpoint = null;
        var text = value?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            error = "The Lambda Runtime API endpoint is empty: expected host:port, for example 127.0.0.1:9001.";
            return false;
        }

        if (text.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            text = text["http://".Length..];
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var authority = slash < 0 ? text : text[..slash];
        var path = slash < 0 ? "" : text[slash..].TrimEnd('/');
        if (path.EndsWith("/" + ApiVersion, StringComparison.Ordinal))
        {
            path = path[..^(ApiVersion.Length + 1)];
        }

        if (path.Any(c => c <= ' ' || c >= 0x7F || c is '?' or '#'))
        {
            error = $"The Lambda Runtime API endpoint '{value}' has a path with spaces, control or non-ASCII characters, '?' or '#'.";
            return false;
        }

        string host;
        var portText = "";
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < authority.Length && authority[close + 1] != ':'))
            {
                error = $"The Lambda Runtime API endpoint '{value}' has a malformed IPv6 address: expected [address]:port.";
                return false;
            }

            host = authority[1..close];
            portText = close + 1 < authority.Length ? authority[(close + 2)..] : "";
        }
        else
        {
            var colon = authority.LastIndexOf(':');
            host = colon < 0 ? authority : authority[..colon];
            portText = colon < 0 ? "" : authority[(colon + 1)..];
        }

        if (host.Length == 0 || host.Any(c => c <= ' ' || c >= 0x7F || c is '/' or '@' or '[' or ']'))
        {
            error = $"The Lambda Runtime API endpoint '{value}' has no valid host: expected host:port, for example 127.0.0.1:9001.";
            return false;
        }

        var port = 80;
        if (portText.Length > 0 && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            error = $"The Lambda Runtime API endpoint '{value}' has an invalid port '{portText}': expected a number from 1 to 65535.";
            return false;
        }

        endpoint = new RuntimeApiEndpoint(host, port, path);
        error = null;
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => BaseUrl;

    private static string FormatHost(string host) => host.Contains(':', StringComparison.Ordinal) ? "[" + host + "]" : host;
}
