// The end-to-end benchmark: examples/StreamingApi served by Kestrel directly, under the emulator in streaming mode and
// in buffered mode, driven by the same loopback HttpClient; then its cold start as JIT, ReadyToRun and Native AOT
// builds, beside a minimal app's and the dotnet new lambda-streaming app's as its deploy.sh publishes it. Writes the results table to the console and into docs/benchmarks.md. See docs/benchmarks.md for the command.
using System.Diagnostics;
using System.Net;
using LambdaStreamingHosting;
using LambdaStreamingHosting.EndToEnd;
using LambdaStreamingHosting.Testing;

const string EmulatorFloor = "Emulator alone (no-op function, streaming)";

if (args is [NullFunction.Argument])
{
    return await NullFunction.RunAsync();
}

if (args is [BlockingLoops.AppArgument])
{
    return await BlockingLoops.RunAppAsync();
}

if (args.Contains(BlockingLoops.Argument))
{
    return await BlockingLoops.MeasureAsync(args);
}

var settings = Settings.Parse(args);
if (settings is null)
{
    Console.Error.WriteLine(Settings.Usage);
    return 2;
}

var started = Stopwatch.GetTimestamp();
var machine = Report.DescribeMachine();
var repository = Settings.FindRepositoryRoot();
Console.WriteLine($"Machine: {machine}");
Console.WriteLine($"Publishing the apps into {settings.WorkDirectory}");
var jit = await ExampleBuild.PublishAsync(repository, settings.WorkDirectory, PublishedApp.Example, BuildFlavor.Jit, settings.ReuseBuilds);
if (settings.SnapStartOnly)
{
    // The JIT build only; a whole run adds the ReadyToRun build (which deploy.sh publishes) to this section.
    using var snapClient = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromMinutes(2) };
    await MeasureSnapStartAsync([jit], snapClient);
    return 0;
}

var coldStartBuilds = new List<ExampleBuild> { jit };
if (settings.ColdStart)
{
    coldStartBuilds.Add(await ExampleBuild.PublishAsync(repository, settings.WorkDirectory, PublishedApp.Example, BuildFlavor.ReadyToRun, settings.ReuseBuilds));
    if (settings.NativeAot)
    {
        coldStartBuilds.Add(await ExampleBuild.PublishAsync(repository, settings.WorkDirectory, PublishedApp.Example, BuildFlavor.NativeAot, settings.ReuseBuilds));
    }

    coldStartBuilds.Add(await ExampleBuild.PublishAsync(repository, settings.WorkDirectory, PublishedApp.Minimal, BuildFlavor.Jit, settings.ReuseBuilds));
    coldStartBuilds.Add(await ExampleBuild.PublishAsync(repository, settings.WorkDirectory, PublishedApp.Minimal, BuildFlavor.JitIlAdapter, settings.ReuseBuilds));
    coldStartBuilds.AddRange(await TemplateAppBuild.PublishAsync(repository, settings.WorkDirectory, settings.ReuseBuilds));
}

using var client = new HttpClient(new SocketsHttpHandler
{
    UseProxy = false,
    AutomaticDecompression = DecompressionMethods.None,
    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
})
{
    Timeout = TimeSpan.FromMinutes(5),
};

var modes = new List<ModeResult>();
foreach (var start in new Func<Task<AppUnderTest>>[]
{
    async () => await KestrelApp.StartAsync(jit, client),
    async () => await EmulatedApp.StartAsync(jit.FunctionOptions(), LambdaInvokeMode.ResponseStream),
    async () => await EmulatedApp.StartAsync(jit.FunctionOptions(), LambdaInvokeMode.Buffered),
    async () => await EmulatedApp.StartAsync(NullFunctionOptions(), LambdaInvokeMode.ResponseStream, EmulatorFloor),
})
{
    await using var app = await start();
    var result = new ModeResult(app.Name);
    Console.WriteLine($"{app.Name}: small GET x {settings.SmallGets}");
    result.SmallGet = await Measurements.SmallGetAsync(client, app, settings.SmallGetWarmup, settings.SmallGets);
    if (app.Name == EmulatorFloor)
    {
        result.Note = "a no-op function (this harness started with --null-function: a raw-socket Runtime API loop "
            + "answering every event with the same 700-byte text) behind the same emulator: the part of the Lambda columns' small-GET "
            + "time that is the emulator and its extra hops, not the adapter.";
        modes.Add(result);
        continue;
    }

    Console.WriteLine($"{app.Name}: flush latency x {settings.FlushRuns}");
    (result.FirstFlush, result.LaterFlush) = await Measurements.FlushLatencyAsync(client, app, settings.FlushRuns);
    Console.WriteLine($"{app.Name}: unflushed write latency x {settings.FlushRuns}");
    (result.FirstWrite, result.LaterWrite) = await Measurements.FlushLatencyAsync(client, app, settings.FlushRuns, flush: false);
    if (app.Streams)
    {
        // Memory first, on a process that has served only small requests so far.
        Console.WriteLine($"{app.Name}: RSS while streaming {Settings.MemoryMegabytes} MB");
        result.Memory = await Measurements.StreamingMemoryAsync(client, app, Settings.MemoryMegabytes);
        Console.WriteLine($"{app.Name}: throughput of {Settings.ThroughputMegabytes} MB x {settings.ThroughputRuns}");
        result.Throughput = await Measurements.ThroughputAsync(client, app, Settings.ThroughputMegabytes, settings.ThroughputRuns);
    }
    else
    {
        result.Note = "a buffered answer is at most 6 MB and reaches the client in one piece, so the flush rows show the "
            + "whole response time and the large-stream rows do not apply.";
    }

    modes.Add(result);
}

var coldStarts = new List<ColdStartResult>();
if (settings.ColdStart)
{
    foreach (var build in coldStartBuilds)
    {
        Console.WriteLine($"Cold start of the {build.Label} build x {settings.ColdStartRuns}");
        var lambda = await ColdStart.MeasureAsync(build, client, settings.ColdStartRuns);
        var kestrel = await ColdStart.MeasureKestrelAsync(build, client, settings.ColdStartRuns);
        coldStarts.Add(new ColdStartResult(build.Label, lambda, kestrel));
    }
}

if (settings.SnapStart && settings.ColdStart)
{
    await MeasureSnapStartAsync([jit, .. coldStartBuilds.Where(b => b.App == PublishedApp.Example && b.Flavor == BuildFlavor.ReadyToRun)], client);
}

var results = Report.Render(modes, coldStarts, settings, machine, Stopwatch.GetElapsedTime(started));
Console.WriteLine();
Console.WriteLine(results);
if (settings.DocumentPath is { } document)
{
    Report.UpdateDocument(Path.Combine(repository, document), Report.BeginMarker, Report.EndMarker, results);
}

return 0;

async Task MeasureSnapStartAsync(IReadOnlyList<ExampleBuild> builds, HttpClient snapClient)
{
    var snapStarted = Stopwatch.GetTimestamp();
    var snapResults = new List<StartResult>();
    foreach (var build in builds)
    {
        snapResults.AddRange(await SnapStartBench.MeasureAsync(build, snapClient, settings.ColdStartRuns, settings.SnapStartWarmRequests));
    }

    var rendered = SnapStartBench.Render(snapResults, settings.ColdStartRuns, settings.SnapStartWarmRequests, settings.CommandLine, machine, Stopwatch.GetElapsedTime(snapStarted));
    Console.WriteLine();
    Console.WriteLine(rendered);
    if (settings.DocumentPath is { } snapDocument)
    {
        Report.UpdateDocument(Path.Combine(repository, snapDocument), SnapStartBench.BeginMarker, SnapStartBench.EndMarker, rendered);
    }
}

static FunctionProcessOptions NullFunctionOptions() => new()
{
    FileName = "dotnet",
    Arguments = [typeof(NullFunction).Assembly.Location, NullFunction.Argument],
};
