using System.IO.Compression;
using System.Text.Json.Nodes;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// The <c>dotnet new lambda-streaming</c> template's own settings. The template end to end (packed, installed,
/// instantiated, tested, run and published) is <see cref="ReadmeTemplateTests"/>.
/// </summary>
public sealed class ProjectTemplateTests
{
    [Fact]
    public void The_template_references_the_version_of_the_libraries_it_ships_with()
    {
        var templateJson = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.TemplateContent, ".template.config", "template.json")))!;
        Assert.Equal("lambda-streaming", (string?)templateJson["shortName"]);
        var defaultVersion = (string?)templateJson["symbols"]!["LambdaStreamingVersion"]!["defaultValue"];
        var libraryVersion = typeof(LambdaStreamingOptions).Assembly.GetName().Version!;
        Assert.Equal($"{libraryVersion.Major}.{libraryVersion.Minor}.{libraryVersion.Build}", defaultVersion);
    }

    [Fact]
    public async Task The_packed_template_defaults_to_the_version_it_was_packed_with()
    {
        using var work = new TemporaryDirectory("lambda-streaming-template-version");
        const string Version = "9.8.7-stamp.1";
        (await DotNetCli.RunAsync(
            ["pack", RepositoryPaths.TemplatePackage, "-o", work.Path, $"-p:Version={Version}", "--artifacts-path", work.Combine("artifacts")],
            RepositoryPaths.Root, TimeSpan.FromMinutes(4))).EnsureSuccess("dotnet pack LambdaStreamingHosting.Templates");

        using var package = ZipFile.OpenRead(Path.Combine(work.Path, $"LambdaStreamingHosting.Templates.{Version}.nupkg"));
        using var stream = package.GetEntry("content/lambda-streaming/.template.config/template.json")!.Open();
        var packed = JsonNode.Parse(stream)!;
        Assert.Equal(Version, (string?)packed["symbols"]!["LambdaStreamingVersion"]!["defaultValue"]);

        // Everything else is the source file as it is.
        var source = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.TemplateContent, ".template.config", "template.json")))!;
        source["symbols"]!["LambdaStreamingVersion"]!["defaultValue"] = Version;
        Assert.True(JsonNode.DeepEquals(source, packed), packed.ToJsonString());
    }
}
