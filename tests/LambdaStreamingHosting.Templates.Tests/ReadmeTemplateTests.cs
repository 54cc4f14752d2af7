using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net.ServerSentEvents;
using System.Reflection.PortableExecutable;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit.Abstractions;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// The README's <c>dotnet new lambda-streaming</c> section, run as written on a fresh clone: its two command blocks are
/// read from README.md and run by bash in a copy of the repository, with this test's own template hive and NuGet
/// package cache, so the README cannot drift from what works. Then what those commands produced is checked: the
/// packages (readme, license, commit, symbols, ReadyToRun images), the generated project and its managed deploy build.
/// <para>
/// What it proves about the packages working together: every package is packed from the copy, and the generated
/// project restores <c>LambdaStreamingHosting</c> and <c>LambdaStreamingHosting.Testing</c> from that folder only
/// (package source mapping), both at the packed version; its <c>dotnet test</c> runs <c>LambdaApplicationFactory</c>
/// tests, so <c>.Testing</c> from its package drives the core from its package, and the <c>lambda-streaming</c> tool
/// runs from its own package. It runs no code of <c>.Npgsql</c>, <c>.EntityFrameworkCore</c>, <c>.OpenTelemetry</c> or
/// <c>.Callers</c>: <see cref="PackedPackagesTests"/> does that for the database packages, in a fraction of the time.
/// </para>
/// </summary>
public sealed partial class ReadmeTemplateTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ReadmeTimeout = TimeSpan.FromMinutes(20);
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(6);

    // What the test adds to the README's commands, and nothing else: `dotnet new` uses this test's template hive, and the
    // runner takes any free port instead of 5050 (tests run in parallel). The runner, the last command, replaces the
    // shell (exec), so the test's signal reaches it.
    private const string Prelude = """
        set -euo pipefail
        dotnet() {
          if [ "${1-}" = new ]; then
            command dotnet "$@" --debug:custom-hive "$README_TEST_TEMPLATE_HIVE"
          elif [ "${1-}" = lambda-streaming ] && [ "${2-}" = run ]; then
            exec dotnet "$@" --port 0
          else
            command dotnet "$@"
          fi
        }

        """;

    [Fact]
    public async Task The_readme_template_commands_work_on_a_fresh_clone()
    {
        var create = Readme.Commands("template");
        var run = Readme.Commands("template-run");
        Assert.StartsWith("dotnet lambda-streaming run ", run[^1], StringComparison.Ordinal); // the long-running command comes last
        var projectName = ProjectNameOption().Match(string.Join('\n', create)) is { Success: true } name
            ? name.Groups[1].Value
            : throw new Xunit.Sdk.XunitException("the README's template block does not run 'dotnet new lambda-streaming -n <name>'");

        using var work = new TemporaryDirectory("lambda-streaming-readme");
        var clone = work.Combine("clone");
        var commit = await RepositoryCopy.CreateAsync(clone);
        var environment = new Dictionary<string, string>
        {
            ["README_TEST_TEMPLATE_HIVE"] = work.Combine("template-hive"),
            // A cache of our own: the generated project restores exactly what was packed here, and the machine's cache
            // never holds a test build under a release version.
            ["NUGET_PACKAGES"] = work.Combine("nuget-packages"),
            // And a .NET CLI home of our own: its local-tool resolver cache remembers where a tool's version was restored,
            // so another copy's restore of the same version (in a cache that is gone now) must not answer for ours.
            ["DOTNET_CLI_HOME"] = work.Combine("dotnet-home"),
        };

        var started = Stopwatch.GetTimestamp();
        using (var readme = ShellScript.Start(Prelude + string.Join('\n', [.. create, .. run]) + "\n", clone, environment))
        {
            var url = new Uri((await readme.WaitForLineAsync(FunctionUrlLine(), ReadmeTimeout)).Groups[1].Value);
            Log(started, "the README's commands: packed, installed, created, tested, runner started");
            await AssertTokensStreamAsync(url, readme);
            await readme.SignalAsync("TERM");
            await readme.WaitForExitAsync(TimeSpan.FromMinutes(1));
            Assert.Contains("lambda-streaming: stopped", readme.Output.Split('\n'));
        }

        var packages = Path.Combine(clone, "artifacts", "packages");
        AssertEveryPackageIsReadyForAFeed(clone, packages, commit);
        var solution = Path.Combine(work.Path, projectName); // the README creates the project next to the clone
        await AssertTheGeneratedProjectAsync(solution, projectName, environment);
        Log(started, "streamed /tokens, checked the packages, published the deploy bundle");
        await AssertADottedNameBuildsAsync(work, packages, environment);
        Log(started, "built a project with a dotted name");
    }

    // Where the time goes (this test is the suite's longest).
    private void Log(long started, string step) =>
        output.WriteLine($"{Stopwatch.GetElapsedTime(started).TotalSeconds,6:F0} s  {step}");

    /// <summary>The template's <c>/tokens</c> through the runner's streaming Function URL, read by an SSE client.</summary>
    private static async Task AssertTokensStreamAsync(Uri url, ShellScript readme)
    {
        using var client = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromMinutes(1) };
        using var response = await client.GetAsync("tokens", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var tokens = new List<string>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
        {
            Assert.Equal("token", item.EventType);
            tokens.Add(item.Data);
        }

        Assert.Equal(Enumerable.Range(1, 10).Select(i => i.ToString(CultureInfo.InvariantCulture)), tokens);

        // The app waits 100 ms before each token, so its first byte leaves at least 900 ms before its last; the
        // emulator saw the first byte that much earlier only if the response streamed (a buffered one arrives whole).
        var invocation = await readme.WaitForLineAsync(TokensInvocationLine(), TimeSpan.FromMinutes(1));
        var ttfb = double.Parse(invocation.Groups["ttfb"].Value, CultureInfo.InvariantCulture);
        var duration = double.Parse(invocation.Groups["duration"].Value, CultureInfo.InvariantCulture);
        Assert.True(duration - ttfb >= 500, $"the first byte came {ttfb} ms into a {duration} ms invocation: not streamed");
    }

    /// <summary>One package per project under src/, each with its page, license, commit and (for code) symbols.</summary>
    private static void AssertEveryPackageIsReadyForAFeed(string clone, string packages, string commit)
    {
        var ids = Directory.GetDirectories(Path.Combine(clone, "src")).Where(d => Directory.GetFiles(d, "*.csproj").Length > 0).Select(d => Path.GetFileName(d)!).ToList();
        Assert.Contains("LambdaStreamingHosting", ids);
        foreach (var id in ids)
        {
            var package = Assert.Single(Directory.GetFiles(packages, $"{id}.*.nupkg"), p => PackageFileName(id).IsMatch(Path.GetFileName(p)));
            using var zip = ZipFile.OpenRead(package);
            var nuspec = Nuspec(zip);
            XNamespace ns = nuspec.Root!.Name.Namespace;
            var metadata = nuspec.Root.Element(ns + "metadata")!;
            Assert.Equal("README.md", (string?)metadata.Element(ns + "readme"));
            Assert.NotNull(zip.GetEntry("README.md"));
            Assert.Equal("MIT", (string?)metadata.Element(ns + "license"));
            Assert.Equal("expression", (string?)metadata.Element(ns + "license")?.Attribute("type"));
            var repository = metadata.Element(ns + "repository") ?? throw new Xunit.Sdk.XunitException($"{id}: no repository element");
            Assert.Equal(commit, (string?)repository.Attribute("commit"));
            // The copy has no remote, so the package names no URL rather than a made-up one.
            Assert.Null(repository.Attribute("url"));

            var assemblies = zip.Entries.Where(e => e.FullName.StartsWith("lib/", StringComparison.Ordinal) && e.FullName.EndsWith(".dll", StringComparison.Ordinal)).ToList();
            if (assemblies.Count > 0)
            {
                using var symbols = ZipFile.OpenRead(Path.ChangeExtension(package, ".snupkg"));
                Assert.All(assemblies, dll => Assert.NotNull(symbols.GetEntry(Path.ChangeExtension(dll.FullName, ".pdb"))));
            }
        }

        using var adapter = ZipFile.OpenRead(Assert.Single(Directory.GetFiles(packages, "LambdaStreamingHosting.*.nupkg"), p => PackageFileName("LambdaStreamingHosting").IsMatch(Path.GetFileName(p))));
        AssertShipsReadyToRunImages(adapter);
    }

    /// <summary>
    /// The adapter's package carries the IL assembly for every platform and, for Lambda's two architectures, the same
    /// assembly precompiled (ReadyToRun), so a JIT-built function does not JIT the adapter on its first invocation.
    /// </summary>
    private static void AssertShipsReadyToRunImages(ZipArchive package)
    {
        Assert.False(ReadyToRunImage.IsReadyToRun(package, "lib/net10.0/LambdaStreamingHosting.dll", out _), "lib/net10.0 must hold the portable IL assembly");
        Assert.True(ReadyToRunImage.IsReadyToRun(package, "runtimes/linux-x64/lib/net10.0/LambdaStreamingHosting.dll", out var x64), "no ReadyToRun image for linux-x64");
        Assert.Equal(Machine.Amd64, x64);
        Assert.True(ReadyToRunImage.IsReadyToRun(package, "runtimes/linux-arm64/lib/net10.0/LambdaStreamingHosting.dll", out var arm64), "no ReadyToRun image for linux-arm64");
        Assert.Equal(Machine.Arm64, arm64);
    }

    private static async Task AssertTheGeneratedProjectAsync(string solution, string name, Dictionary<string, string> environment)
    {
        // What the user gets: the app with the one line, its tests, and the deploy recipe, all named after the project.
        var program = await File.ReadAllTextAsync(Path.Combine(solution, name, "Program.cs"));
        Assert.Contains("builder.Services.AddLambdaStreaming();", program, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(solution, $"{name}.Tests", $"{name}.Tests.csproj")));

        var deployTemplate = CloudFormationTemplate.Load(Path.Combine(solution, name, "deploy", "template.yaml"));
        var function = Assert.IsType<Dictionary<string, object?>>(deployTemplate.Evaluate(
            Assert.Single(deployTemplate.Resources("AWS::Serverless::Function")).Value["Properties"],
            new Dictionary<string, string> { ["Build"] = "Managed" }));
        Assert.Equal(name, function["Handler"]);
        Assert.Equal("RESPONSE_STREAM", deployTemplate.Deployed(new Dictionary<string, string> { ["Build"] = "Managed" })["AppFunctionUrl"].Properties["InvokeMode"]);

        // A portable (RID-less) build of the app (the one dotnet test made) lists the precompiled images, so the host
        // loads the one for its machine.
        var deps = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(solution, name, "bin", "Debug", "net10.0", $"{name}.deps.json")))!;
        var library = deps["targets"]!.AsObject().Single().Value!.AsObject().Single(l => l.Key.StartsWith("LambdaStreamingHosting/", StringComparison.Ordinal)).Value!;
        var runtimeTargets = library["runtimeTargets"]!.AsObject();
        foreach (var rid in new[] { "linux-x64", "linux-arm64" })
        {
            Assert.Equal(rid, (string?)runtimeTargets[$"runtimes/{rid}/lib/net10.0/LambdaStreamingHosting.dll"]?["rid"]);
        }

        // The managed-runtime bundle deploy.sh builds is precompiled: the app and the adapter, for x86_64.
        (await DotNetCli.RunProgramAsync("bash", [Path.Combine(name, "deploy", "deploy.sh"), "--publish-only"], solution, StepTimeout, environment))
            .EnsureSuccess("deploy.sh --publish-only");
        var bundle = Path.Combine(solution, name, "deploy", ".build", "function");
        foreach (var assembly in new[] { $"{name}.dll", "LambdaStreamingHosting.dll" })
        {
            Assert.True(ReadyToRunImage.IsReadyToRun(Path.Combine(bundle, assembly), out var machine), $"{assembly} in the deploy bundle is not ReadyToRun");
            Assert.Equal(Machine.Amd64, machine);
        }
    }

    /// <summary>A project name with a dot becomes namespaces and file names that still build.</summary>
    private static async Task AssertADottedNameBuildsAsync(TemporaryDirectory work, string packages, Dictionary<string, string> environment)
    {
        const string Name = "Contoso.Chat";
        var output = work.Combine(Name);
        (await DotNetCli.RunAsync(
            ["new", "lambda-streaming", "-n", Name, "-o", output, "--LocalFeed", packages, "--debug:custom-hive", environment["README_TEST_TEMPLATE_HIVE"]],
            work.Path, StepTimeout)).EnsureSuccess("dotnet new lambda-streaming -n Contoso.Chat");
        (await DotNetCli.RunAsync(["build", $"{Name}.slnx"], output, StepTimeout, environment)).EnsureSuccess("dotnet build Contoso.Chat.slnx");
    }

    private static XDocument Nuspec(ZipArchive package)
    {
        var entry = Assert.Single(package.Entries, e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/', StringComparison.Ordinal));
        using var stream = entry.Open();
        return XDocument.Load(stream);
    }

    private static Regex PackageFileName(string id) => new($"^{Regex.Escape(id)}\\.\\d+\\.\\d+\\.\\d+(-[0-9A-Za-z.-]+)?\\.nupkg$");

    [GeneratedRegex(@"dotnet new lambda-streaming -n (\S+)")]
    private static partial Regex ProjectNameOption();

    [GeneratedRegex(@"^lambda-streaming: Function URL (http://127\.0\.0\.1:\d+/) ")]
    private static partial Regex FunctionUrlLine();

    [GeneratedRegex(@"^invoke \S+  GET /tokens  200  \d+ B  ttfb (?<ttfb>[\d.]+) ms  (?<duration>[\d.]+) ms$")]
    private static partial Regex TokensInvocationLine();
}
