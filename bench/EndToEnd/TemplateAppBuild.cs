using System.Diagnostics;

namespace LambdaStreamingHosting.EndToEnd;

/// <summary>
/// The app a user gets from <c>dotnet new lambda-streaming</c>, built the way it deploys: every package of this
/// checkout (the adapter, its integrations and the template) is packed into a local folder with
/// <c>eng/Packages.proj</c>, the template is installed into a hive of the harness's own, a project is created with
/// <c>--LocalFeed</c>, and its <c>deploy/deploy.sh --publish-only</c> publishes the managed build (ReadyToRun for
/// linux-x64). For comparison the same project is published with the same command without
/// ReadyToRun (JIT; the adapter still comes precompiled from its package). NuGet restores into a package cache of the
/// harness's own, so a cached package of the same version never stands in for what was just packed.
/// </summary>
internal static class TemplateAppBuild
{
    public static async Task<IReadOnlyList<ExampleBuild>> PublishAsync(string repositoryRoot, string workRoot, bool reuse)
    {
        var app = PublishedApp.Template;
        var root = Path.Combine(workRoot, "template-app");
        var project = Path.Combine(root, app.AssemblyName, app.AssemblyName);
        var bundle = Path.Combine(project, "deploy", ".build", "function");
        var jitOutput = Path.Combine(root, "jit");
        ExampleBuild[] builds =
        [
            new(app, BuildFlavor.ReadyToRun, bundle, "dotnet", [Path.Combine(bundle, app.AssemblyName + ".dll")]),
            new(app, BuildFlavor.Jit, jitOutput, "dotnet", [Path.Combine(jitOutput, app.AssemblyName + ".dll")]),
        ];
        if (reuse && builds.All(b => File.Exists(b.Arguments[0])))
        {
            Console.WriteLine($"  {app.Name}: reusing {root}");
            return builds;
        }

        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }

        Directory.CreateDirectory(root);
        var started = Stopwatch.GetTimestamp();
        var feed = Path.Combine(root, "packages");
        var hive = Path.Combine(root, "template-hive");
        var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(root, "nuget-packages") };
        // Every package, as the README packs them: the template's project references more than the adapter.
        await RunAsync(app, "dotnet",
            ["pack", Path.Combine(repositoryRoot, "eng", "Packages.proj"), "-o", feed, "-p:PackageBuildArtifactsPath=" + Path.Combine(root, "artifacts") + Path.DirectorySeparatorChar, "--disable-build-servers", "-nologo", "-v:q"],
            root, environment);

        var templatePackage = Directory.GetFiles(feed, "LambdaStreamingHosting.Templates.*.nupkg").Single();
        await RunAsync(app, "dotnet", ["new", "install", templatePackage, "--debug:custom-hive", hive], root, environment);
        await RunAsync(app, "dotnet", ["new", "lambda-streaming", "-n", app.AssemblyName, "--LocalFeed", feed, "--debug:custom-hive", hive], root, environment);
        await RunAsync(app, "bash", [Path.Combine(app.AssemblyName, "deploy", "deploy.sh"), "--publish-only"], Path.Combine(root, app.AssemblyName), environment);
        await RunAsync(app, "dotnet",
            ["publish", project, "-c", "Release", "-r", "linux-x64", "--self-contained", "false", "-o", jitOutput, "--disable-build-servers", "-nologo", "-v:q"],
            root, environment);
        foreach (var build in builds.Where(b => !File.Exists(b.Arguments[0])))
        {
            throw new InvalidOperationException($"The {build.Label} build has no {build.Arguments[0]}.");
        }

        Console.WriteLine($"  {app.Name}: packed, created and published in {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s");
        return builds;
    }

    private static async Task RunAsync(PublishedApp app, string fileName, IReadOnlyList<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string> environment)
    {
        Console.WriteLine($"  {app.Name}: {fileName} {string.Join(' ', arguments)}");
        var (exitCode, log) = await ExampleBuild.RunAsync(fileName, arguments, workingDirectory, environment);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} failed (exit code {exitCode}):{Environment.NewLine}{log}");
        }
    }
}
