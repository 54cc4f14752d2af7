namespace LambdaStreamingHosting.EndToEnd;

/// <summary>The harness's command line.</summary>
internal sealed class Settings
{
    public const string Usage = """
        Usage: dotnet run -c Release --project bench/EndToEnd -- [options]
          --quick          fewer samples (about a third of the time)
          --reuse-builds   reuse the example builds of an earlier run when present
          --no-cold-start  skip the cold-start measurements (and the ReadyToRun and Native AOT publishes)
          --no-aot         skip the Native AOT build
          --no-snap-start  skip the SnapStart measurements (first request after a restore)
          --snap-start-only  only the SnapStart measurements, of the JIT build (a whole run adds ReadyToRun)
          --no-doc         only print the results; do not update docs/benchmarks.md
          --work DIR       where the example builds go (default: $TMPDIR/lambda-streaming-bench)
        """;

    public int SmallGetWarmup { get; private init; } = 200;

    public int SmallGets { get; private init; } = 1000;

    public int FlushRuns { get; private init; } = 30;

    public const int ThroughputMegabytes = 100;

    public int ThroughputRuns { get; private init; } = 3;

    public const int MemoryMegabytes = 200;

    public int ColdStartRuns { get; private init; } = 5;

    public bool ColdStart { get; private init; } = true;

    public bool NativeAot { get; private init; } = true;

    public bool ReuseBuilds { get; private init; }

    /// <summary>Whether the SnapStart section is measured.</summary>
    public bool SnapStart { get; private init; } = true;

    /// <summary>Whether only the SnapStart section is measured.</summary>
    public bool SnapStartOnly { get; private init; }

    /// <summary>Warm requests after each first request of the SnapStart section.</summary>
    public int SnapStartWarmRequests { get; private init; } = 20;

    public string? DocumentPath { get; private init; } = "docs/benchmarks.md";

    public string WorkDirectory { get; private init; } = "";

    public string CommandLine { get; private init; } = "";

    /// <summary>Reads the arguments; null when they are not understood.</summary>
    public static Settings? Parse(string[] args)
    {
        var quick = args.Contains("--quick");
        var work = Array.IndexOf(args, "--work");
        var known = new[] { "--quick", "--reuse-builds", "--no-cold-start", "--no-aot", "--no-doc", "--work", "--no-snap-start", "--snap-start-only" };
        if (args.Where((a, i) => i != work + 1 || work < 0).Any(a => !known.Contains(a)) || (work >= 0 && work == args.Length - 1))
        {
            return null;
        }

        return new Settings
        {
            SmallGetWarmup = quick ? 100 : 200,
            SmallGets = quick ? 300 : 1000,
            FlushRuns = quick ? 10 : 30,
            ThroughputRuns = quick ? 2 : 3,
            ColdStartRuns = quick ? 3 : 5,
            ColdStart = !args.Contains("--no-cold-start"),
            NativeAot = !args.Contains("--no-aot"),
            ReuseBuilds = args.Contains("--reuse-builds"),
            SnapStart = !args.Contains("--no-snap-start"),
            SnapStartOnly = args.Contains("--snap-start-only"),
            SnapStartWarmRequests = quick ? 10 : 20,
            DocumentPath = args.Contains("--no-doc") ? null : "docs/benchmarks.md",
            CommandLine = ("dotnet run -c Release --project bench/EndToEnd -- " + string.Join(' ', args)).TrimEnd(' ', '-'),
            WorkDirectory = work >= 0 ? Path.GetFullPath(args[work + 1]) : Path.Combine(Path.GetTempPath(), "lambda-streaming-bench"),
        };
    }

    /// <summary>The checkout this harness runs in: the first folder up from here that holds the solution.</summary>
    public static string FindRepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "LambdaStreamingHosting.sln")))
                {
                    return directory.FullName;
                }
            }
        }

        throw new InvalidOperationException("Run the harness from inside the LambdaStreamingHosting checkout (no LambdaStreamingHosting.sln found above the current folder).");
    }
}
