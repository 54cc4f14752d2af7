using System.Globalization;
using System.Text;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.Tool;

/// <summary>Formats one finished invocation as one console line.</summary>
internal static class InvocationLine
{
    /// <summary>
    /// <c>invoke &lt;id&gt;  GET /path  200  1234 B  ttfb 12.3 ms  45.6 ms</c>, followed by the error type and any protocol
    /// violations when there are some. The time to first byte is <c>-</c> when no body byte was sent.
    /// </summary>
    public static string Format(LambdaInvocationRecord record)
    {
        var line = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"invoke {record.RequestId}  {record.Method} {record.Target}  {record.StatusCode}  {record.ResponseBytes} B")
            .Append("  ttfb ")
            .Append(record.TimeToFirstByte is { } ttfb ? Milliseconds(ttfb) + " ms" : "-")
            .Append(CultureInfo.InvariantCulture, $"  {Milliseconds(record.Duration)} ms");
        if (record.ErrorType is not null)
        {
            line.Append(CultureInfo.InvariantCulture, $"  {record.ErrorType}");
            if (!string.IsNullOrEmpty(record.ErrorMessage))
            {
                line.Append(CultureInfo.InvariantCulture, $": {record.ErrorMessage}");
            }
        }

        foreach (var violation in record.ProtocolViolations)
        {
            line.Append(CultureInfo.InvariantCulture, $"  [protocol violation: {violation}]");
        }

        return line.ToString();
    }

    private static string Milliseconds(TimeSpan time) => time.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);
}
