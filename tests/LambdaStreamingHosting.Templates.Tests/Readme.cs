namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// The repository's README.md and the command blocks in it that tests run as written: a fenced block right after an
/// HTML comment <c>&lt;!-- readme-test: NAME --&gt;</c> (invisible on the rendered page).
/// </summary>
internal static class Readme
{
    public static string Path => System.IO.Path.Combine(RepositoryPaths.Root, "README.md");

    /// <summary>The command lines of the block named <paramref name="name"/>, without blank lines.</summary>
    public static IReadOnlyList<string> Commands(string name)
    {
        var lines = File.ReadAllLines(Path);
        var marker = $"<!-- readme-test: {name} -->";
        var at = Array.FindIndex(lines, l => l.Trim() == marker);
        Assert.True(at >= 0, $"README.md has no '{marker}' before a command block");
        Assert.True(at + 1 < lines.Length && lines[at + 1].StartsWith("```", StringComparison.Ordinal), $"README.md: '{marker}' must be followed by a fenced block");
        var end = Array.FindIndex(lines, at + 2, l => l.StartsWith("```", StringComparison.Ordinal));
        Assert.True(end > at + 1, $"README.md: the block after '{marker}' is not closed");
        return [.. lines[(at + 2)..end].Where(l => !string.IsNullOrWhiteSpace(l))];
    }
}
