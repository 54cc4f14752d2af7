using System.Diagnostics;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.EndToEnd;

/// <summary>How the example app is compiled.</summary>
internal enum BuildFlavor
{
    /// <summary>
    /// The app as plain IL, compiled at run time (Lambda's managed dotnet10 runtime), with the adapter as its package
    /// ships it for linux-x64: precompiled (the package's <c>runtimes/linux-x64</c> image, which the host loads there).
    /// </summary>
    Jit,

    /// <summary>Everything as plain IL, the adapter too (as a project reference builds it): what the package's image saves.</summary>
    JitIlAdapter,

    /// <summary>IL plus precompiled native code (<c>PublishReadyToRun</c>).</summary>
    ReadyToRun,

    /// <summary>One native executable named <c>bootstrap</c> (Lambda's provided.al2023 runtime).</summary>
    NativeAot,
}

/// <summary>An app the harness publishes: its project, its assembly, and the path a cold start requests.</summary>
internal sealed record PublishedApp(string Name, string Project, string AssemblyName, string ColdStartPath)
{
    /// <summary>The example app, measured everywhere.</summary>
    public static readonly PublishedApp Example = new("examples/StreamingApi", "examples/StreamingApi/StreamingApi.csproj", "StreamingApi", "/");

    /// <summary>A minimal-API app without database or Razor (the tests' sample app), the cold-start reference.</summary>
    public static readonly PublishedApp Minimal = new("tests/SampleApp (minimal API)", "tests/SampleApp/SampleApp.csproj", "SampleApp", "/hello");

    /// <summary>A new project from <c>dotnet new lambda-streaming</c> (<see cref="TemplateAppBuild"/>).</summary>
    public static readonly PublishedApp Template = new("dotnet new lambda-streaming app", "", "TemplateApp", "/");
}

/// <summary>A published build of an app and the command line that starts it.</summary>
internal sealed record ExampleBuild(PublishedApp App, BuildFlavor Flavor, string Directory, string FileName, IReadOnlyList<string> Arguments)
{
    public string Label => App.Name + ", " + Flavor switch
    {
        BuildFlavor.Jit => "JIT",
        BuildFlavor.JitIlAdapter => "JIT, adapter as IL",
        BuildFlavor.ReadyToRun => "ReadyToRun",
        _ => "Native AOT",
    };

    /// <summary>How <see cref="FunctionProcess"/> starts this build, with the benchmark environment.</summary>
    public FunctionProcessOptions FunctionOptions() => new()
    {
        FileName = FileName,
        Arguments = [.. Arguments],
        WorkingDirectory = Directory,
        Environment = new Dictionary<string, string?>(AppUnderTest.AppEnvironment),
    };

    /// <summary>
    /// Publishes <paramref name="app"/> as <paramref name="flavor"/> under <paramref name="workRoot"/> (own artifacts folder, no
    /// build servers left behind), or reuses an earlier publish when <paramref name="reuse"/> is set and one exists.
    /// </summary>
    public static async Task<ExampleBuild> PublishAsync(string repositoryRoot, string workRoot, PublishedApp app, BuildFlavor flavor, bool reuse)
    {
        var output = Path.Combine(workRoot, app.AssemblyName + "-" + flavor);
        var build = flavor == BuildFlavor.NativeAot
            ? new ExampleBuild(app, flavor, output, Path.Combine(output, "bootstrap"), [])
            : new ExampleBuild(app, flavor, output, "dotnet", [Path.Combine(output, app.AssemblyName + ".dll")]);
        var entryPoint = flavor == BuildFlavor.NativeAot ? build.FileName : build.Arguments[0];
        if (reuse && File.Exists(entryPoint))
        {
            Console.WriteLine($"  {build.Label}: reusing {output}");
            return build;
        }

        List<string> arguments =
        [
            "publish", Path.Combine(repositoryRoot, app.Project), "-c", "Release", "-o", output,
            "--artifacts-path", Path.Combine(workRoot, "artifacts-" + app.AssemblyName + "-" + flavor), "--disable-build-servers", "-nologo", "-v:q",
        ];
        arguments.AddRange(flavor switch
        {
            BuildFlavor.ReadyToRun => ["-r", "linux-x64", "--self-contained", "false", "-p:PublishReadyToRun=true"],
            BuildFlavor.NativeAot => ["-r", "linux-x64", "-p:PublishAot=true"],
            _ => [],
        });

        Console.WriteLine($"  {build.Label}: dotnet {string.Join(' ', arguments)}");
        var started = Stopwatch.GetTimestamp();
        var (exitCode, log) = await RunAsync("dotnet", arguments);
        if (exitCode != 0 || !File.Exists(entryPoint))
        {
            throw new InvalidOperationException($"Publishing the {build.Label} build failed (exit code {exitCode}):{Environment.NewLine}{log}");
        }

        if (flavor == BuildFlavor.Jit)
        {
            // The examples reference the adapter's project, which builds IL; the package puts a ReadyToRun image beside
            // it for linux-x64 and linux-arm64 (eng/ReadyToRunPackage.targets), and that is what a function runs.
            var image = await (_adapterImage ??= PublishAdapterImageAsync(repositoryRoot, workRoot));
            File.Copy(image, Path.Combine(output, Path.GetFileName(image)), overwrite: true);
        }

        Console.WriteLine($"  {build.Label}: published in {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s");
        return build;
    }

    /// <summary>The adapter's image, published once per harness run (the builds are published one after another).</summary>
    private static Task<string>? _adapterImage;

    /// <summary>The adapter's linux-x64 ReadyToRun image, built the way its package target builds it.</summary>
    private static async Task<string> PublishAdapterImageAsync(string repositoryRoot, string workRoot)
    {
        var output = Path.Combine(workRoot, "adapter-linux-x64");
        List<string> arguments =
        [
            "publish", Path.Combine(repositoryRoot, "src", "LambdaStreamingHosting", "LambdaStreamingHosting.csproj"), "-c", "Release",
            "-r", "linux-x64", "-o", output, "--artifacts-path", Path.Combine(workRoot, "artifacts-adapter"), "--disable-build-servers", "-nologo", "-v:q",
        ];
        var (exitCode, log) = await RunAsync("dotnet", arguments);
        var image = Path.Combine(output, "LambdaStreamingHosting.dll");
        return exitCode == 0 && File.Exists(image)
            ? image
            : throw new InvalidOperationException($"Publishing the adapter's ReadyToRun image failed (exit code {exitCode}):{Environment.NewLine}{log}");
    }

    /// <summary>Runs a command to its end and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string fileName, IEnumerable<string> arguments, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var startInfo = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null)
        {
            startInfo.WorkingDirectory = workingDirectory;
        }

        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[name] = value;
        }

        startInfo.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        startInfo.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(startInfo)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
