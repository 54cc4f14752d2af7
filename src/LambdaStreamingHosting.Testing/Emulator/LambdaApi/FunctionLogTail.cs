using System.Globalization;
using System.Text;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// The log of one invocation, as Lambda returns its tail to a caller that asked for it (<c>X-Amz-Log-Type: Tail</c>):
/// Lambda's <c>START</c> line, every line the function wrote (standard output and error) while it ran the invocation,
/// then Lambda's <c>END</c> and <c>REPORT</c> lines; the last 4 KB, base64. The function's lines are those of a
/// <see cref="FunctionProcess"/>; an in-process function's output is the host's own, so its log holds Lambda's lines
/// only. Thread-safe.
/// </summary>
internal sealed class FunctionLogTail
{
    /// <summary>How much of the log Lambda returns: the last 4 KB.</summary>
    public const int TailBytes = 4 * 1024;

    private readonly Lock _sync = new();
    private readonly Queue<string> _lines = new();
    private int _bytes;

    /// <summary>Adds a line the function wrote; the oldest lines go once well over <see cref="TailBytes"/> are kept.</summary>
    public void Add(string line)
    {
        lock (_sync)
        {
            _lines.Enqueue(line);
            _bytes += Encoding.UTF8.GetByteCount(line) + 1;
            while (_bytes - Encoding.UTF8.GetByteCount(_lines.Peek()) - 1 > TailBytes)
            {
                _bytes -= Encoding.UTF8.GetByteCount(_lines.Dequeue()) + 1;
            }
        }
    }

    /// <summary>The log's last 4 KB as UTF-8, base64 (the value of <c>X-Amz-Log-Result</c> and <c>LogResult</c>).</summary>
    public string ToBase64(string requestId, string version, TimeSpan duration)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"START RequestId: {requestId} Version: {version}\n");
        lock (_sync)
        {
            foreach (var line in _lines)
            {
                text.Append(line).Append('\n');
            }
        }

        var milliseconds = duration.TotalMilliseconds;
        text.Append(CultureInfo.InvariantCulture, $"END RequestId: {requestId}\n");
        text.Append(CultureInfo.InvariantCulture, $"REPORT RequestId: {requestId}\tDuration: {milliseconds:0.00} ms\tBilled Duration: {Math.Ceiling(milliseconds):0} ms\t\n");
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        return Convert.ToBase64String(bytes.AsSpan(Math.Max(0, bytes.Length - TailBytes)));
    }
}
