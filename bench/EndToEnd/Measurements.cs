using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;

namespace LambdaStreamingHosting.EndToEnd;

/// <summary>The measurements, each driven by the same loopback <see cref="HttpClient"/> whatever serves the app.</summary>
internal static class Measurements
{
    /// <summary>Lines (flushes) per <c>/bench/flush-then-wait</c> response: the first, then the mid-stream ones.</summary>
    public const int FlushLines = 4;

    private const double Megabyte = 1024 * 1024;

    /// <summary>Latency of <c>GET /</c> (a small text answer), whole response read, in milliseconds.</summary>
    public static async Task<Samples> SmallGetAsync(HttpClient client, AppUnderTest app, int warmup, int count)
    {
        var samples = new Samples("ms");
        for (var i = 0; i < warmup + count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await client.GetAsync(app.BaseAddress);
            var body = await response.Content.ReadAsByteArrayAsync();
            var elapsed = Stopwatch.GetElapsedTime(started);
            EnsureSuccess(response, app, "/");
            if (body.Length == 0)
            {
                throw new InvalidOperationException($"{app.Name}: GET / answered an empty body.");
            }

            if (i >= warmup)
            {
                samples.Add(elapsed.TotalMilliseconds);
            }
        }

        return samples;
    }

    /// <summary>
    /// <c>/bench/flush-then-wait</c>: the app stamps each line with the monotonic clock right before it writes (and, with
    /// <paramref name="flush"/>, flushes) it; the client compares on receipt. The first line is the time to first byte
    /// after the app's first write (the prelude goes with it); the later lines are the delay of a write in the middle of
    /// a stream. Without <paramref name="flush"/>, a server that waits for a flush or for more writes shows it here.
    /// </summary>
    public static async Task<(Samples First, Samples Later)> FlushLatencyAsync(HttpClient client, AppUnderTest app, int runs, bool flush = true)
    {
        var first = new Samples("ms");
        var later = new Samples("ms");
        var uri = new Uri(app.BaseAddress, $"bench/flush-then-wait?lines={FlushLines}&waitMs=25&flush={(flush ? "true" : "false")}");
        var buffer = new byte[4096];
        for (var run = 0; run < runs + 1; run++)
        {
            using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead);
            EnsureSuccess(response, app, uri.PathAndQuery);
            await using var stream = await response.Content.ReadAsStreamAsync();
            var filled = 0;
            var line = 0;
            while (true)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(filled));
                var received = Stopwatch.GetTimestamp();
                if (read == 0)
                {
                    break;
                }

                filled += read;
                int newline;
                while ((newline = Array.IndexOf(buffer, (byte)'\n', 0, filled)) >= 0)
                {
                    if (!Utf8Parser.TryParse(buffer.AsSpan(0, newline), out long stamp, out _))
                    {
                        throw new InvalidOperationException($"{app.Name}: {uri.PathAndQuery} sent a line that is not a timestamp.");
                    }

                    var milliseconds = (received - stamp) * 1000.0 / Stopwatch.Frequency;
                    if (run > 0)
                    {
                        (line == 0 ? first : later).Add(milliseconds); // run 0 warms up
                    }

                    line++;
                    buffer.AsSpan(newline + 1, filled - newline - 1).CopyTo(buffer);
                    filled -= newline + 1;
                }
            }

            if (line != FlushLines)
            {
                throw new InvalidOperationException($"{app.Name}: {uri.PathAndQuery} sent {line} lines instead of {FlushLines}.");
            }
        }

        return (first, later);
    }

    /// <summary>Throughput of <c>/download?mb=</c> (64 KiB writes, each flushed), request sent to last byte, in MB/s.</summary>
    public static async Task<Samples> ThroughputAsync(HttpClient client, AppUnderTest app, int megabytes, int runs)
    {
        var samples = new Samples("MB/s");
        for (var run = 0; run < runs; run++)
        {
            var started = Stopwatch.GetTimestamp();
            var bytes = await DownloadAsync(client, app, megabytes);
            samples.Add(bytes / Megabyte / Stopwatch.GetElapsedTime(started).TotalSeconds);
        }

        return samples;
    }

    /// <summary>
    /// The app process's resident memory while it streams <paramref name="megabytes"/> MB: sampled from
    /// <c>/proc/PID/status</c> every few milliseconds and read from the kernel's high-water mark (VmHWM) at the end.
    /// </summary>
    public static async Task<MemoryResult> StreamingMemoryAsync(HttpClient client, AppUnderTest app, int megabytes)
    {
        var pid = app.ProcessId;
        var before = ReadStatusKilobytes(pid, "VmRSS:");
        var highWaterBefore = ReadStatusKilobytes(pid, "VmHWM:");
        using var done = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            var peak = before;
            while (!done.IsCancellationRequested)
            {
                peak = Math.Max(peak, ReadStatusKilobytes(pid, "VmRSS:"));
                await Task.Delay(5, CancellationToken.None);
            }

            return peak;
        });
        await DownloadAsync(client, app, megabytes);
        await done.CancelAsync();
        var sampledPeak = await sampler;
        var highWaterAfter = ReadStatusKilobytes(pid, "VmHWM:");

        // The high-water mark only counts if this download raised it; otherwise the sampled peak is the best evidence.
        var peak = highWaterAfter > highWaterBefore ? Math.Max(highWaterAfter, sampledPeak) : sampledPeak;
        return new MemoryResult(before / 1024.0, peak / 1024.0);
    }

    private static async Task<long> DownloadAsync(HttpClient client, AppUnderTest app, int megabytes)
    {
        var uri = new Uri(app.BaseAddress, $"download?mb={megabytes.ToString(CultureInfo.InvariantCulture)}");
        using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead);
        EnsureSuccess(response, app, uri.PathAndQuery);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
        try
        {
            long total = 0;
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                total += read;
            }

            var expected = megabytes * 1024L * 1024L;
            if (total != expected)
            {
                throw new InvalidOperationException($"{app.Name}: {uri.PathAndQuery} sent {total:N0} bytes instead of {expected:N0}.");
            }

            return total;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static long ReadStatusKilobytes(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(field.Length).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no {field} line.");
    }

    private static void EnsureSuccess(HttpResponseMessage response, AppUnderTest app, string target)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{app.Name}: GET {target} answered {(int)response.StatusCode} {response.ReasonPhrase}.");
        }
    }
}

/// <summary>Resident memory of the app process before and at the peak of a large streamed response, in MB.</summary>
internal sealed record MemoryResult(double BeforeMegabytes, double PeakMegabytes)
{
    public double GrowthMegabytes => PeakMegabytes - BeforeMegabytes;
}
