using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LambdaStreamingHosting.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace LambdaStreamingHosting.EndToEnd;

/// <summary>
/// Lambda Managed Instances with app code that blocks thread-pool threads: an app with 32 invocation loops
/// (<c>AWS_LAMBDA_MAX_CONCURRENCY=32</c>) on 2 cores, 32 clients at once, half of them calling an endpoint that blocks
/// its thread (<c>Thread.Sleep</c>) and half one that answers at once. Measures how long the quick requests take, which
/// is how long a free loop waits for a thread to go on to its next event, with the thread pool left alone and with the
/// server's minimum, beside the same app on Kestrel at the same concurrency. <c>--blocking-loops</c> runs it.
/// </summary>
internal static class BlockingLoops
{
    public const string Argument = "--blocking-loops";
    public const string AppArgument = "--blocking-app";
    public const string BeginMarker = "<!-- blocking-loops results: begin (written by bench/EndToEnd --blocking-loops) -->";
    public const string EndMarker = "<!-- blocking-loops results: end -->";

    private const int Loops = 32;
    private const int Cores = 2;
    private const int BlockMilliseconds = 100;

    /// <summary>The app measured, run by the harness itself with <see cref="AppArgument"/>: on Kestrel, or under Lambda when <c>AWS_LAMBDA_RUNTIME_API</c> is set.</summary>
    public static async Task<int> RunAppAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddLambdaStreaming();
        var app = builder.Build();
        app.MapGet("/block", (int ms) =>
        {
            Thread.Sleep(ms); // synchronous work that holds its thread: blocking I/O, a lock, sync-over-async
            return "blocked";
        });
        app.MapGet("/quick", () => "quick");
        await app.RunAsync();
        return 0;
    }

    /// <summary>Runs the measurement; prints the table and writes it into docs/benchmarks.md unless <c>--no-doc</c>.</summary>
    public static async Task<int> MeasureAsync(string[] args)
    {
        var quick = args.Contains("--quick");
        var duration = TimeSpan.FromSeconds(quick ? 4 : 10);
        var started = Stopwatch.GetTimestamp();
        var machine = Report.DescribeMachine();
        Console.WriteLine($"Machine: {machine}");
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10) })
        {
            Timeout = TimeSpan.FromMinutes(5),
        };

        var rows = new List<(string Name, Result Result)>();
        foreach (var (name, start) in new (string, Func<Task<IAsyncDisposable>>)[]
        {
            ("Kestrel direct", () => StartKestrelAsync(client)),
            ($"Lambda, {Loops} loops, thread pool left alone", () => StartLambdaAsync(minThreads: "0")),
            ($"Lambda, {Loops} loops, the server's thread-pool minimum", () => StartLambdaAsync(minThreads: null)),
        })
        {
            Console.WriteLine($"{name}: {Loops} clients, half blocking {BlockMilliseconds} ms, for {duration.TotalSeconds:0} s");
            await using var app = await start();
            var baseAddress = ((IApp)app).BaseAddress;
            await RunLoadAsync(client, baseAddress, TimeSpan.FromSeconds(2)); // warm-up: JIT, connections, threads
            rows.Add((name, await RunLoadAsync(client, baseAddress, duration)));
        }

        var table = Render(rows, machine, duration, args, Stopwatch.GetElapsedTime(started));
        Console.WriteLine();
        Console.WriteLine(table);
        if (!args.Contains("--no-doc"))
        {
            Report.UpdateDocument(Path.Combine(Settings.FindRepositoryRoot(), "docs", "benchmarks.md"), BeginMarker, EndMarker, table);
        }

        return 0;
    }

    /// <summary>32 clients for <paramref name="duration"/>: the even ones call <c>/block</c>, the odd ones <c>/quick</c>, each as fast as answers come.</summary>
    private static async Task<Result> RunLoadAsync(HttpClient client, Uri baseAddress, TimeSpan duration)
    {
        var result = new Result();
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, Loops).Select(async worker =>
        {
            await Task.Yield();
            var blocking = worker % 2 == 0;
            var uri = new Uri(baseAddress, blocking ? $"block?ms={BlockMilliseconds}" : "quick");
            while (Stopwatch.GetTimestamp() < end)
            {
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await client.GetAsync(uri);
                    await response.Content.ReadAsByteArrayAsync();
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref result.Errors);
                        continue;
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref result.Errors);
                    continue;
                }

                var elapsed = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
                lock (result)
                {
                    (blocking ? result.Blocking : result.Quick).Add(elapsed);
                }
            }
        }));
        return result;
    }

    private static async Task<IAsyncDisposable> StartKestrelAsync(HttpClient client)
    {
        var port = FreePort();
        var start = new ProcessStartInfo { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var part in PinnedCommand())
        {
            if (start.FileName.Length == 0)
            {
                start.FileName = part;
            }
            else
            {
                start.ArgumentList.Add(part);
            }
        }

        foreach (var (name, value) in AppEnvironment())
        {
            start.Environment[name] = value;
        }

        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment.Remove("AWS_LAMBDA_RUNTIME_API");
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var app = new KestrelProcess(process, new Uri($"http://127.0.0.1:{port}/"));
        var deadline = Stopwatch.GetTimestamp() + (60 * Stopwatch.Frequency);
        while (true)
        {
            try
            {
                using var response = await client.GetAsync(new Uri(app.BaseAddress, "quick"));
                if (response.IsSuccessStatusCode)
                {
                    return app;
                }
            }
            catch (HttpRequestException) when (Stopwatch.GetTimestamp() < deadline && !process.HasExited)
            {
            }

            await Task.Delay(10);
        }
    }

    private static async Task<IAsyncDisposable> StartLambdaAsync(string? minThreads)
    {
        var command = PinnedCommand();
        var options = new FunctionProcessOptions { FileName = command[0], Arguments = [.. command.Skip(1)] };
        foreach (var (name, value) in AppEnvironment())
        {
            options.Environment[name] = value;
        }

        options.Environment["AWS_LAMBDA_MAX_CONCURRENCY"] = Loops.ToString(CultureInfo.InvariantCulture);
        options.Environment["AWS_LAMBDA_DOTNET_MIN_THREADS"] = minThreads;
        var function = new FunctionProcess(options);
        var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions
        {
            Environment = function,
            MaxConcurrency = Loops,
            Timeout = TimeSpan.FromMinutes(5),
        });
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(TimeSpan.FromSeconds(60));
        return new LambdaProcess(function, emulator);
    }

    /// <summary>The app's command: this harness with <see cref="AppArgument"/>, on <see cref="Cores"/> cores (<c>taskset</c> when there is one).</summary>
    private static string[] PinnedCommand()
    {
        string[] app = ["dotnet", typeof(BlockingLoops).Assembly.Location, AppArgument];
        var cores = Math.Min(Cores, Environment.ProcessorCount);
        return File.Exists("/usr/bin/taskset") ? ["/usr/bin/taskset", "-c", $"0-{cores - 1}", .. app] : app;
    }

    private static Dictionary<string, string?> AppEnvironment() => new()
    {
        ["DOTNET_PROCESSOR_COUNT"] = Cores.ToString(CultureInfo.InvariantCulture),
        ["DOTNET_gcServer"] = "0",
        ["Logging__LogLevel__Default"] = "Warning",
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
    };

    private static string Render(List<(string Name, Result Result)> rows, string machine, TimeSpan duration, string[] args, TimeSpan took)
    {
        using var load = File.Exists("/proc/loadavg") ? new StreamReader("/proc/loadavg") : null;
        var loadAverage = load?.ReadLine()?.Split(' ')[0] ?? "unknown";
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC in {took.TotalMinutes:0.0} min on {machine}; load average {loadAverage} at the end.");
        text.AppendLine(CultureInfo.InvariantCulture, $"Command: `dotnet run -c Release --project bench/EndToEnd -- {string.Join(' ', args)}`.");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"| {Loops} clients for {duration.TotalSeconds:0} s, half calling `/block` ({BlockMilliseconds} ms `Thread.Sleep`), app on {Cores} cores | quick requests | quick: median (p99, max), ms | blocking requests | failed |");
        text.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var (name, result) in rows)
        {
            var quick = result.Quick.Order().ToArray();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {quick.Length:N0} | {Percentile(quick, 0.5):0.0} ({Percentile(quick, 0.99):0}, {(quick.Length > 0 ? quick[^1] : 0):0}) | {result.Blocking.Count:N0} | {result.Errors} |");
        }

        return text.ToString();
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Result
    {
        public List<double> Quick { get; } = [];

        public List<double> Blocking { get; } = [];

        public int Errors;
    }

    private interface IApp
    {
        Uri BaseAddress { get; }
    }

    private sealed class KestrelProcess(Process process, Uri baseAddress) : IApp, IAsyncDisposable
    {
        public Uri BaseAddress { get; } = baseAddress;

        public async ValueTask DisposeAsync()
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
        }
    }

    private sealed class LambdaProcess(FunctionProcess function, LambdaEmulator emulator) : IApp, IAsyncDisposable
    {
        public Uri BaseAddress => emulator.FunctionUrl;

        public async ValueTask DisposeAsync()
        {
            await function.DisposeAsync();
            await emulator.DisposeAsync();
        }
    }
}
