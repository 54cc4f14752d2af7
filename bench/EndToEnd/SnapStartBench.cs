using System.Diagnostics;
using System.Globalization;
using System.Text;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.EndToEnd;

/// <summary>One way of starting the function, measured by <see cref="SnapStartBench"/>.</summary>
internal sealed record StartScenario(string Label, bool SnapStart, IReadOnlyDictionary<string, string?> Environment);

/// <summary>The samples of one scenario and request.</summary>
internal sealed record StartResult(string Build, string Request, StartScenario Scenario, Samples Init, Samples First, Samples Warm);

/// <summary>
/// The first request after a SnapStart restore against a warm request of the same kind, as Lambda runs it: the function
/// (the example app, a real process under the emulator with <c>LambdaEmulatorOptions.SnapStart</c>) initialises, runs its
/// warm-ups, and is frozen (<c>SIGSTOP</c>) when it asks <c>/restore/next</c>, the snapshot; the first request continues
/// it (<c>SIGCONT</c>), the restore, and is timed from the client's send to the last byte of its answer. Then the same
/// request again, frozen between each as Lambda freezes an idle function: the warm requests. Without warm-up, with the
/// server's own priming, with the measured request registered as the one warm-up; beside it the same function without
/// SnapStart (on-demand: init, then the first request), with and without <c>WarmUp:DuringInit</c>. Each run is a new
/// process; the first run of each scenario only warms the disk cache and is not counted.
/// </summary>
internal static class SnapStartBench
{
    public const string BeginMarker = "<!-- snapstart results: begin (written by bench/EndToEnd) -->";
    public const string EndMarker = "<!-- snapstart results: end -->";

    /// <summary>The requests measured: JSON endpoints of the example app.</summary>
    public static readonly (string Label, string Path)[] Requests =
    [
        ("`GET /feed?count=3&intervalMs=0` (JSON array)", "/feed?count=3&intervalMs=0"),
        ("`GET /notes` (EF Core on SQLite, JSON array)", "/notes"),
    ];

    public static IReadOnlyList<StartScenario> Scenarios(string path) =>
    [
        new("SnapStart, no warm-up", true, new Dictionary<string, string?> { ["LambdaStreaming__WarmUp__Iterations"] = "0" }),
        new("SnapStart, the server's own priming", true, new Dictionary<string, string?>()),
        new("SnapStart, this request as the one warm-up", true, new Dictionary<string, string?> { ["LambdaStreaming__WarmUp__Requests__0__Path"] = path }),
        new("On-demand (no SnapStart)", false, new Dictionary<string, string?>()),
        new("On-demand, `WarmUp:DuringInit` with this request", false, new Dictionary<string, string?>
        {
            ["LambdaStreaming__WarmUp__DuringInit"] = "true",
            ["LambdaStreaming__WarmUp__Requests__0__Path"] = path,
        }),
    ];

    public static async Task<List<StartResult>> MeasureAsync(ExampleBuild build, HttpClient client, int runs, int warmRequests)
    {
        var results = new List<StartResult>();
        foreach (var (label, path) in Requests)
        {
            foreach (var scenario in Scenarios(path))
            {
                Console.WriteLine($"{build.Label}: {scenario.Label}, {path} x {runs}");
                var init = new Samples("ms");
                var first = new Samples("ms");
                var warm = new Samples("ms");
                for (var run = 0; run < runs + 1; run++)
                {
                    var (initMs, firstMs, warmMs) = await RunOnceAsync(build, scenario, path, client, warmRequests);
                    if (run > 0)
                    {
                        init.Add(initMs);
                        first.Add(firstMs);
                        warm.Add(warmMs);
                    }
                }

                results.Add(new StartResult(build.Label, label, scenario, init, first, warm));
                // Each row as soon as it is measured, so a run cut short still tells what it saw.
                Console.WriteLine(Row(results[^1]));
            }
        }

        return results;
    }

    private static async Task<(double Init, double First, double WarmMedian)> RunOnceAsync(ExampleBuild build, StartScenario scenario, string path, HttpClient client, int warmRequests)
    {
        var options = build.FunctionOptions();
        options.Freeze = true;
        options.SnapStart = scenario.SnapStart;
        options.Environment["LambdaStreaming__InvokeMode"] = nameof(LambdaInvokeMode.ResponseStream);
        // Each process its own database file, created at init as the example does.
        options.Environment["ConnectionStrings__Sqlite"] = $"Data Source={Path.Combine(Path.GetTempPath(), $"snapstart-bench-{Guid.NewGuid():N}.db")}";
        foreach (var (name, value) in scenario.Environment)
        {
            options.Environment[name] = value;
        }

        await using var function = new FunctionProcess(options);
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions
        {
            Environment = function,
            SnapStart = scenario.SnapStart,
            Timeout = TimeSpan.FromMinutes(1),
        });
        var spawned = Stopwatch.GetTimestamp();
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(TimeSpan.FromSeconds(120));
        var init = Stopwatch.GetElapsedTime(spawned).TotalMilliseconds;

        var uri = new Uri(emulator.FunctionUrl, path);
        var first = await TimeRequestAsync(client, uri, function);
        var warm = new Samples("ms");
        for (var i = 0; i < warmRequests; i++)
        {
            await WaitUntilFrozenAsync(function);
            warm.Add(await TimeRequestAsync(client, uri, function));
        }

        return (init, first, warm.Median);
    }

    /// <summary>From the request's send to the last byte of its answer.</summary>
    private static async Task<double> TimeRequestAsync(HttpClient client, Uri uri, FunctionProcess function)
    {
        var sent = Stopwatch.GetTimestamp();
        using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead);
        await response.Content.ReadAsByteArrayAsync();
        var elapsed = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"GET {uri.PathAndQuery} answered {(int)response.StatusCode}. {function.RecentOutput}");
        }

        return elapsed;
    }

    /// <summary>Waits until the idle function is frozen again, so every warm request thaws it as the first one did.</summary>
    private static async Task WaitUntilFrozenAsync(FunctionProcess function)
    {
        var deadline = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
        while (!function.IsFrozen)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException("The function was not frozen again within 10 s of its answer.");
            }

            await Task.Delay(1);
        }
    }

    public static string Render(IReadOnlyList<StartResult> results, int runs, int warmRequests, string commandLine, string machine, TimeSpan duration)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC in {duration.TotalMinutes:F1} min on {machine}.");
        text.AppendLine(CultureInfo.InvariantCulture, $"Command: `{commandLine}`. Medians of {runs} processes per row (each with {warmRequests} warm requests, their median taken).");
        foreach (var group in results.GroupBy(r => (r.Build, r.Request)))
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"**{group.Key.Build}, {group.Key.Request}**");
            text.AppendLine();
            text.AppendLine("| Start | Init: spawn to ready (ms) | First request (ms) | Warm request (ms) | First ÷ warm |");
            text.AppendLine("|---|---:|---:|---:|---:|");
            foreach (var result in group)
            {
                text.AppendLine(Row(result));
            }
        }

        text.AppendLine();
        text.AppendLine("\"Init\" ends when the function is frozen: at `/restore/next` (the snapshot) with SnapStart, at its first `/next` on demand. "
            + "With SnapStart, the first request is the one after the restore; Lambda adds the restore of the VM itself, which a local freeze does not model.");
        return text.ToString();
    }

    private static string Row(StartResult result) => string.Create(CultureInfo.InvariantCulture,
        $"| {result.Scenario.Label} | {result.Init.Median:F0} | {result.First.Median:F1} | {result.Warm.Median:F2} | {result.First.Median / result.Warm.Median:F0}× |");
}
