using System.Globalization;
using System.IO.Compression;
using System.Reflection.PortableExecutable;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// <c>dotnet new lambda-streaming</c> end to end: the libraries and the template are packed to a local feed, the template
/// is installed into an isolated hive, instantiated, and the generated solution is built and its tests are run.
/// </summary>
public sealed partial class ProjectTemplateTests
{
    private const string ProjectName = "Contoso.Chat";
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(6);

    [Fact]
    public async Task The_template_installs_instantiates_builds_and_its_tests_pass()
    {
        using var work = new TemporaryDirectory("lambda-streaming-template");

        // A version no feed has, so the generated project restores exactly what was packed here (not a cached copy).
        var version = string.Create(CultureInfo.InvariantCulture, $"1.0.0-templatetest.{DateTime.UtcNow:yyyyMMddHHmmss}.{Random.Shared.Next(1000, 9999)}");
        try
        {
            await PackInstantiateAndTestAsync(work, version);
        }
        finally
        {
            DeleteFromGlobalPackagesFolder(version);
        }
    }

    private static async Task PackInstantiateAndTestAsync(TemporaryDirectory work, string version)
    {
        var feed = work.Combine("feed");
        var artifacts = work.Combine("artifacts");
        var hive = work.Combine("hive");
        var output = work.Combine("app");

        // The adapter the way CI pipelines often pack it: built first, then packed with --no-build (its ReadyToRun
        // images are compiled by the pack itself); the others packed directly.
        var adapter = Path.Combine(RepositoryPaths.Root, "src", "LambdaStreamingHosting");
        (await DotNetCli.RunAsync(["build", adapter, "-c", "Release", $"-p:Version={version}", "--artifacts-path", artifacts], RepositoryPaths.Root, StepTimeout))
            .EnsureSuccess("dotnet build LambdaStreamingHosting");
        (await DotNetCli.RunAsync(["pack", adapter, "--no-build", "-c", "Release", "-o", feed, $"-p:Version={version}", "--artifacts-path", artifacts], RepositoryPaths.Root, StepTimeout))
            .EnsureSuccess("dotnet pack --no-build LambdaStreamingHosting");
        foreach (var project in new[] { "LambdaStreamingHosting.Testing", "LambdaStreamingHosting.OpenTelemetry", "LambdaStreamingHosting.Templates" })
        {
            (await DotNetCli.RunAsync(
                ["pack", Path.Combine(RepositoryPaths.Root, "src", project), "-c", "Release", "-o", feed, $"-p:Version={version}", "--artifacts-path", artifacts],
                RepositoryPaths.Root, StepTimeout)).EnsureSuccess($"dotnet pack {project}");
        }

        AssertShipsReadyToRunImages(Path.Combine(feed, $"LambdaStreamingHosting.{version}.nupkg"));

        (await DotNetCli.RunAsync(
            ["new", "install", Path.Combine(feed, $"LambdaStreamingHosting.Templates.{version}.nupkg"), "--debug:custom-hive", hive],
            work.Path, StepTimeout)).EnsureSuccess("dotnet new install");

        (await DotNetCli.RunAsync(
            ["new", "lambda-streaming", "-n", ProjectName, "-o", output, "--LambdaStreamingVersion", version, "--debug:custom-hive", hive],
            work.Path, StepTimeout)).EnsureSuccess("dotnet new lambda-streaming");

        // What the user gets: the app with the one line, its tests, and the deploy recipe, all named after the project.
        var program = await File.ReadAllTextAsync(Path.Combine(output, ProjectName, "Program.cs"));
        Assert.Contains("builder.Services.AddLambdaStreaming();", program, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(output, $"{ProjectName}.Tests", $"{ProjectName}.Tests.csproj")));
        Assert.Contains($"Version=\"{version}\"", await File.ReadAllTextAsync(Path.Combine(output, ProjectName, $"{ProjectName}.csproj")), StringComparison.Ordinal);

        var deployTemplate = CloudFormationTemplate.Load(Path.Combine(output, ProjectName, "deploy", "template.yaml"));
        var function = Assert.IsType<Dictionary<string, object?>>(deployTemplate.Evaluate(
            Assert.Single(deployTemplate.Resources("AWS::Serverless::Function")).Value["Properties"],
            new Dictionary<string, string> { ["Build"] = "Managed" }));
        Assert.Equal(ProjectName, function["Handler"]);
        Assert.Equal("RESPONSE_STREAM", Assert.IsType<Dictionary<string, object?>>(function["FunctionUrlConfig"])["InvokeMode"]);
        Assert.True(File.Exists(Path.Combine(output, ProjectName, "deploy", "deploy.sh")));

        await File.WriteAllTextAsync(Path.Combine(output, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="lambda-streaming-local" value="{feed}" />
              </packageSources>
            </configuration>
            """);

        var test = (await DotNetCli.RunAsync(["test", $"{ProjectName}.slnx"], output, StepTimeout)).EnsureSuccess("dotnet test on the generated solution");
        var passed = TestsPassed().Match(test.Output);
        Assert.True(passed.Success && int.Parse(passed.Groups[1].Value, CultureInfo.InvariantCulture) >= 2, $"the generated tests did not run:\n{test.Output}");

        // A portable (RID-less) build of the app lists the precompiled images, so the host loads the one for its machine.
        var deps = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, ProjectName, "bin", "Debug", "net10.0", $"{ProjectName}.deps.json")))!;
        var library = deps["targets"]!.AsObject().Single().Value![$"LambdaStreamingHosting/{version}"]!;
        var runtimeTargets = library["runtimeTargets"]!.AsObject();
        foreach (var rid in new[] { "linux-x64", "linux-arm64" })
        {
            Assert.Equal(rid, (string?)runtimeTargets[$"runtimes/{rid}/lib/net10.0/LambdaStreamingHosting.dll"]?["rid"]);
        }
    }

    /// <summary>
    /// The package carries the IL assembly for every platform and, for Lambda's two architectures, the same assembly
    /// precompiled (ReadyToRun), so a JIT-built function does not JIT the adapter on its first invocation.
    /// </summary>
    private static void AssertShipsReadyToRunImages(string package)
    {
        using var zip = ZipFile.OpenRead(package);
        Assert.False(IsReadyToRun(zip, "lib/net10.0/LambdaStreamingHosting.dll", out _), "lib/net10.0 must hold the portable IL assembly");
        Assert.True(IsReadyToRun(zip, "runtimes/linux-x64/lib/net10.0/LambdaStreamingHosting.dll", out var x64), "no ReadyToRun image for linux-x64");
        Assert.Equal(Machine.Amd64, x64);
        Assert.True(IsReadyToRun(zip, "runtimes/linux-arm64/lib/net10.0/LambdaStreamingHosting.dll", out var arm64), "no ReadyToRun image for linux-arm64");
        Assert.Equal(Machine.Arm64, arm64);
    }

    private static bool IsReadyToRun(ZipArchive zip, string entryName, out Machine machine)
    {
        var entry = zip.GetEntry(entryName) ?? throw new Xunit.Sdk.XunitException($"the package has no {entryName}");
        using var image = new MemoryStream();
        using (var stream = entry.Open())
        {
            stream.CopyTo(image);
        }

        image.Position = 0;
        using var pe = new PEReader(image);
        // A ReadyToRun image is a managed assembly with a native header; crossgen also marks the machine it targets
        // (XOR-ed with an OS-specific value on Linux, so the header's machine alone does not say it).
        var corHeader = pe.PEHeaders.CorHeader ?? throw new Xunit.Sdk.XunitException($"{entryName} is not a managed assembly");
        machine = (Machine)((ushort)pe.PEHeaders.CoffHeader.Machine ^ LinuxMachineOverride);
        if (corHeader.ManagedNativeHeaderDirectory.Size == 0)
        {
            machine = pe.PEHeaders.CoffHeader.Machine;
            return false;
        }

        return true;
    }

    // crossgen2's Linux images: Machine = real machine XOR 0x7B79 (the runtime's IMAGE_FILE_MACHINE_NATIVE_OS_OVERRIDE).
    private const ushort LinuxMachineOverride = 0x7B79;

    // The restore of the generated projects extracted the test-only version into the machine's package cache.
    private static void DeleteFromGlobalPackagesFolder(string version)
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { "lambdastreaminghosting", "lambdastreaminghosting.testing", "lambdastreaminghosting.opentelemetry" })
        {
            var folder = Path.Combine(packages, id, version);
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [Fact]
    public void The_template_references_the_version_of_the_libraries_it_ships_with()
    {
        var templateJson = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.TemplateContent, ".template.config", "template.json")))!;
        Assert.Equal("lambda-streaming", (string?)templateJson["shortName"]);
        var defaultVersion = (string?)templateJson["symbols"]!["LambdaStreamingVersion"]!["defaultValue"];
        var libraryVersion = typeof(LambdaStreamingOptions).Assembly.GetName().Version!;
        Assert.Equal($"{libraryVersion.Major}.{libraryVersion.Minor}.{libraryVersion.Build}", defaultVersion);
    }

    [GeneratedRegex(@"Passed:\s+(\d+)")]
    private static partial Regex TestsPassed();
}
