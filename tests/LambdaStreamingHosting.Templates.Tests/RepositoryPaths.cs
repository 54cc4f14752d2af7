using System.Reflection;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>Where things are in the repository these tests were built from.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string Example => Path.Combine(Root, "examples", "StreamingApi");

    public static string ExampleDeployTemplate => Path.Combine(Example, "deploy", "template.yaml");

    public static string TemplatePackage => Path.Combine(Root, "src", "LambdaStreamingHosting.Templates");

    public static string TemplateContent => Path.Combine(TemplatePackage, "content", "lambda-streaming");

    private static string FindRoot()
    {
        var root = typeof(RepositoryPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == "RepositoryRoot")?.Value;
        if (root is null || !File.Exists(Path.Combine(root, "LambdaStreamingHosting.sln")))
        {
            throw new InvalidOperationException($"The repository root recorded at build time ('{root}') does not contain LambdaStreamingHosting.sln: rebuild the tests.");
        }

        return Path.GetFullPath(root);
    }
}
