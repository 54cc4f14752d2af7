using System.Diagnostics;

namespace LambdaStreamingHosting.Tool;

/// <summary>Builds a project with the .NET SDK and finds the assembly it produces.</summary>
internal static class ProjectBuilder
{
    /// <summary>Builds <paramref name="projectPath"/> and returns the full path of its output assembly.</summary>
    /// <exception cref="ToolException">The project does not exist, does not build, or has no output assembly.</exception>
    public static async Task<string> BuildAsync(string projectPath, string configuration, string? artifactsPath, TextWriter log, CancellationToken cancellationToken)
    {
        if (!File.Exists(projectPath) && !Directory.Exists(projectPath))
        {
            throw new ToolException($"--project '{projectPath}' does not exist: give a project file or a folder that contains one.");
        }

        List<string> properties = [$"-p:Configuration={configuration}"];
        if (artifactsPath is not null)
        {
            properties.Add($"-p:ArtifactsPath={Path.GetFullPath(artifactsPath)}");
        }

        await log.WriteLineAsync($"lambda-streaming: building {projectPath} ({configuration})").ConfigureAwait(false);
        // The build writes its errors straight to our console. No build servers: they would outlive the build holding
        // our output open, and a tool should leave no processes behind.
        var build = await RunDotnetAsync(
            ["build", projectPath, .. properties, "--disable-build-servers", "-nologo", "-v:q", "-clp:NoSummary"],
            captureOutput: false,
            cancellationToken).ConfigureAwait(false);
        if (build.ExitCode != 0)
        {
            throw new ToolException($"dotnet build {projectPath} failed (exit code {build.ExitCode}): see the errors above.");
        }

        var query = await RunDotnetAsync(
            ["msbuild", projectPath, .. properties, "-getProperty:TargetPath", "-nodeReuse:false", "-nologo"],
            captureOutput: true,
            cancellationToken).ConfigureAwait(false);
        var targetPath = query.Output.Trim();
        if (query.ExitCode != 0 || targetPath.Length == 0)
        {
            throw new ToolException($"Could not read the output path of {projectPath} (exit code {query.ExitCode}):{Environment.NewLine}{targetPath}");
        }

        if (!targetPath.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || !File.Exists(targetPath))
        {
            throw new ToolException($"{projectPath} builds '{targetPath}', which is not a .NET assembly this tool can run with dotnet; give the command after '--' instead.");
        }

        return targetPath;
    }

    private static async Task<(int ExitCode, string Output)> RunDotnetAsync(IReadOnlyList<string> arguments, bool captureOutput, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = captureOutput,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // Telemetry notices and first-run banners would mix into the output.
        startInfo.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        startInfo.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(startInfo) ?? throw new ToolException("Could not start 'dotnet': is the .NET SDK on the PATH?");
        var output = captureOutput ? process.StandardOutput.ReadToEndAsync(cancellationToken) : Task.FromResult(string.Empty);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output.ConfigureAwait(false));
    }
}

/// <summary>The tool cannot go on; the message says why and what to change.</summary>
internal sealed class ToolException(string message) : Exception(message);
