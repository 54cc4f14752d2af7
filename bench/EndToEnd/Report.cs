using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace LambdaStreamingHosting.EndToEnd;

/// <summary>What one way of serving the example measured.</summary>
internal sealed class ModeResult(string name)
{
    public string Name { get; } = name;

    public Samples? SmallGet { get; set; }

    public Samples? FirstFlush { get; set; }

    public Samples? LaterFlush { get; set; }

    public Samples? FirstWrite { get; set; }

    public Samples? LaterWrite { get; set; }

    public Samples? Throughput { get; set; }

    public MemoryResult? Memory { get; set; }

    public string? Note { get; set; }
}

/// <summary>What a cold start of one build measured.</summary>
internal sealed record ColdStartResult(string Build, Samples FirstByte, Samples Kestrel);

/// <summary>Writes the results as Markdown and puts them into docs/benchmarks.md between its result markers.</summary>
internal static class Report
{
    public const string BeginMarker = "<!-- end-to-end results: begin (written by bench/EndToEnd) -->";
    public const string EndMarker = "<!-- end-to-end results: end -->";

    public static string Render(IReadOnlyList<ModeResult> modes, IReadOnlyList<ColdStartResult> coldStarts, Settings settings, string machine, TimeSpan duration)
    {
        var kestrel = modes.FirstOrDefault(m => m.Name.StartsWith("Kestrel", StringComparison.Ordinal));
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC in {duration.TotalMinutes:F1} min on {machine}.");
        text.AppendLine(CultureInfo.InvariantCulture, $"Command: `{settings.CommandLine}`.");
        text.AppendLine();
        text.AppendLine("| Measure (JIT build of examples/StreamingApi) | " + string.Join(" | ", modes.Select(m => m.Name)) + " |");
        text.AppendLine("|---|" + string.Concat(modes.Select(_ => "---:|")));
        Row(text, $"Small `GET /`, median (p99), ms — {settings.SmallGets} requests", modes, m => Pair(m.SmallGet));
        Row(text, "Small `GET /`, median ratio to Kestrel direct", modes, m => Ratio(m.SmallGet, kestrel?.SmallGet));
        Row(text, $"First flush → client receipt (TTFB), median (p99), ms — {settings.FlushRuns} runs", modes, m => Pair(m.FirstFlush));
        Row(text, $"Later flush → client receipt, median (p99), ms — {(Measurements.FlushLines - 1) * settings.FlushRuns} flushes", modes, m => Pair(m.LaterFlush));
        Row(text, $"First unflushed `Response.Body` write → client receipt, median (p99), ms — {settings.FlushRuns} runs", modes, m => Pair(m.FirstWrite));
        Row(text, $"Later unflushed write → client receipt, median (p99), ms — {(Measurements.FlushLines - 1) * settings.FlushRuns} writes", modes, m => Pair(m.LaterWrite));
        Row(text, $"Throughput of a {Settings.ThroughputMegabytes} MB stream, median of {settings.ThroughputRuns}, MB/s", modes, m => Single(m.Throughput?.Median, "F0"));
        Row(text, $"RSS growth while streaming {Settings.MemoryMegabytes} MB, MB", modes, m => m.Memory is { } memory ? "+" + memory.GrowthMegabytes.ToString("F1", CultureInfo.InvariantCulture) : "n/a");
        Row(text, $"RSS before → peak while streaming {Settings.MemoryMegabytes} MB, MB", modes, m => m.Memory is { } memory ? $"{memory.BeforeMegabytes:F0} → {memory.PeakMegabytes:F0}" : "n/a");
        foreach (var note in modes.Where(m => m.Note is not null))
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"{note.Name}: {note.Note}");
        }

        if (coldStarts.Count > 0)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"Cold start under the emulator (streaming), {coldStarts[0].FirstByte.Count} runs per build after one unmeasured run:");
            text.AppendLine();
            text.AppendLine("| Build | Lambda streaming (emulator): spawn → first response byte, median (max), ms | Same build on Kestrel directly: spawn → first response, median (max), ms |");
            text.AppendLine("|---|---:|---:|");
            foreach (var cold in coldStarts)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"| {cold.Build} | {Pair(cold.FirstByte, max: true)} | {Pair(cold.Kestrel, max: true)} |");
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// Replaces what lies between <paramref name="beginMarker"/> and <paramref name="endMarker"/> in the document at
    /// <paramref name="path"/> with <paramref name="results"/>, and says on the console whether it did (a missing
    /// document or missing markers leave it as it is).
    /// </summary>
    public static void UpdateDocument(string path, string beginMarker, string endMarker, string results)
    {
        var document = File.Exists(path) ? File.ReadAllText(path) : "";
        var begin = document.IndexOf(beginMarker, StringComparison.Ordinal);
        var end = document.IndexOf(endMarker, StringComparison.Ordinal);
        if (begin < 0 || end < begin)
        {
            Console.WriteLine($"{path} has no result markers ({beginMarker} ... {endMarker}): not updated.");
            return;
        }

        File.WriteAllText(path, document[..(begin + beginMarker.Length)] + "\n" + results + document[end..]);
        Console.WriteLine($"Updated {path}.");
    }

    /// <summary>CPU, cores, memory, OS and .NET of this machine, and its load when the run started.</summary>
    public static string DescribeMachine()
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        var memory = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var gigabytes = long.Parse(memory.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0 / 1024.0;
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        return $"{cpu}, {Environment.ProcessorCount} cores, {gigabytes:F0} GB RAM, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}; load average {load} at the start";
    }

    private static void Row(StringBuilder text, string label, IEnumerable<ModeResult> modes, Func<ModeResult, string> cell) =>
        text.AppendLine("| " + label + " | " + string.Join(" | ", modes.Select(cell)) + " |");

    private static string Pair(Samples? samples, bool max = false) =>
        samples is null || samples.Count == 0
            ? "n/a"
            : string.Create(CultureInfo.InvariantCulture, $"{Format(samples.Median)} ({Format(max ? samples.Max : samples.P99)})");

    private static string Ratio(Samples? samples, Samples? baseline) =>
        samples is null || baseline is null || samples.Count == 0 || baseline.Count == 0
            ? "n/a"
            : string.Create(CultureInfo.InvariantCulture, $"{samples.Median / baseline.Median:F2}×");

    private static string Single(double? value, string format) =>
        value is { } v && !double.IsNaN(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";

    private static string Format(double value) =>
        value.ToString(value < 10 ? "F2" : value < 100 ? "F1" : "F0", CultureInfo.InvariantCulture);
}
