using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;

// Memory diagnoser on: it counts the bytes allocated on every thread of the process per operation. Unless told
// otherwise on the command line, benchmarks run in this process (no generated project to build, which matters on a busy
// machine) with BenchmarkDotNet's short job; any BenchmarkDotNet option (--filter, --job, ...) can be given.
// `--allocations` instead prints where the bytes of a small invocation go; `--sends`, socket sends per answer;
// `--pool-check`, what the database thaw check costs the first request after a freeze.
if (args is ["--allocations"])
{
    // Not a benchmark: which types the bytes of a small invocation go to, per server (see AllocationProfile).
    await LambdaStreamingHosting.Benchmarks.AllocationProfile.RunAsync();
    return;
}

if (args is ["--pool-check"])
{
    // Not a benchmark: the first request after a 1 s freeze, with and without the thaw check (see PoolCheckMeasurement).
    await LambdaStreamingHosting.Benchmarks.PoolCheckMeasurement.RunAsync();
    return;
}

if (args is ["--sends"])
{
    // Not a benchmark: socket sends per answer for a few answer shapes, Lambda and Kestrel (see SendsProfile).
    await LambdaStreamingHosting.Benchmarks.SendsProfile.RunAsync();
    return;
}

var defaults = new List<string>();
if (!args.Contains("--job") && !args.Contains("-j"))
{
    defaults.AddRange(["--job", "short"]);
}

if (!args.Contains("--inProcess") && !args.Contains("--runtimes") && !args.Contains("-r"))
{
    defaults.Add("--inProcess");
}

var config = DefaultConfig.Instance
    .AddDiagnoser(MemoryDiagnoser.Default)
    .WithOptions(ConfigOptions.JoinSummary);

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. args, .. defaults], config);
