using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.Tool.Tests;

/// <summary>The test function (FunctionApp/), built next to the tests and run with <c>dotnet FunctionApp.dll</c>.</summary>
internal static class FunctionApp
{
    public static string AssemblyPath { get; } = Path.Combine(AppContext.BaseDirectory, "FunctionApp.dll");

    /// <summary>The project folder, for the tool's <c>--project</c>.</summary>
    public static string ProjectDirectory { get; } = Path.Combine(RepositoryRoot(), "tests", "LambdaStreamingHosting.Tool.Tests", "FunctionApp");

    public static FunctionProcessOptions ProcessOptions(bool freeze, OutputLines output) => new()
    {
        FileName = "dotnet",
        Arguments = [AssemblyPath],
        WorkingDirectory = AppContext.BaseDirectory,
        Freeze = freeze,
        StandardOutput = output.Add,
        StandardError = output.Add,
    };

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "LambdaStreamingHosting.sln")))
            {
                return directory.FullName;
            }
        }

        // Built with --artifacts-path outside the repository: find it from the source file's location instead.
        return Path.GetFullPath(Path.Combine(SourceDirectory(), "..", ".."));
    }

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
