using System.Reflection;
using System.Text.RegularExpressions;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.Tests.Docs;

/// <summary>
/// <c>docs/errors.md</c> and the code agree: every <c>errorType</c> the server names (the constants of
/// <see cref="LambdaErrorTypes"/>) and every one the emulator names (its own catalogue, since it shares no code with the
/// server) has a row in the doc's tables, the doc names no <c>LambdaStreaming.*</c> type the server lacks, and no
/// source file outside the catalogues spells an error type of its own.
/// </summary>
public sealed partial class ErrorTypesDocumentTests
{
    private const string EmulatorSection = "What the emulator records";

    private static readonly string RepositoryRoot = FindRepositoryRoot();

    private static readonly ErrorsDocument Document = ErrorsDocument.Parse(File.ReadAllLines(Path.Combine(RepositoryRoot, "docs", "errors.md")));

    [Fact]
    public void Every_server_error_type_has_a_row()
    {
        var constants = ConstantsOf(typeof(LambdaErrorTypes));
        Assert.NotEmpty(constants);

        var missing = constants.Where(c => !Document.ServerRows.Contains(c.Value)).Select(c => $"LambdaErrorTypes.{c.Name} ({c.Value})").ToList();

        Assert.True(missing.Count == 0, $"docs/errors.md has no table row for: {string.Join(", ", missing)}. Add a row saying when it occurs and what to do.");
    }

    [Fact]
    public void Every_error_type_a_server_row_names_is_a_constant()
    {
        var values = ConstantsOf(typeof(LambdaErrorTypes)).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);

        // A row names constants (dotted names) or, for a failed response, example exception type names (no dot).
        var unknown = Document.ServerRows.Where(name => name.Contains('.', StringComparison.Ordinal) && !values.Contains(name)).ToList();

        Assert.True(unknown.Count == 0, $"docs/errors.md has rows for error types that are not constants of LambdaErrorTypes: {string.Join(", ", unknown)}.");
    }

    [Fact]
    public void The_doc_names_no_LambdaStreaming_error_type_that_is_not_a_constant()
    {
        var values = ConstantsOf(typeof(LambdaErrorTypes)).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);

        var unknown = LambdaStreamingName().Matches(Document.Text).Select(m => m.Value).Distinct().Where(name => !values.Contains(name)).ToList();

        Assert.True(unknown.Count == 0, $"docs/errors.md names error types the server does not have: {string.Join(", ", unknown)}.");
    }

    [Fact]
    public void The_emulator_section_lists_exactly_the_emulator_error_types()
    {
        var catalogue = typeof(LambdaEmulator).Assembly.GetType("LambdaStreamingHosting.Testing.EmulatorErrorTypes", throwOnError: true)!;
        var values = ConstantsOf(catalogue).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(values);

        Assert.True(Document.EmulatorRows.Count > 0, $"docs/errors.md has no table under '## {EmulatorSection}'.");
        var missing = values.Where(v => !Document.EmulatorRows.Contains(v)).ToList();
        var unknown = Document.EmulatorRows.Where(name => !values.Contains(name)).ToList();

        Assert.True(missing.Count == 0, $"docs/errors.md ('{EmulatorSection}') has no row for: {string.Join(", ", missing)}.");
        Assert.True(unknown.Count == 0, $"docs/errors.md ('{EmulatorSection}') has rows for error types the emulator does not name: {string.Join(", ", unknown)}.");
    }

    [Fact]
    public void Error_type_literals_appear_only_in_the_catalogues()
    {
        // The one place each error type is spelled: the server's public catalogue, and the emulator's own (with the
        // Runtime API's reply types, which go to the function).
        string[] catalogues =
        [
            Path.Combine("src", "LambdaStreamingHosting", "LambdaErrorTypes.cs"),
            Path.Combine("src", "LambdaStreamingHosting.Testing", "Emulator", "EmulatorErrorTypes.cs"),
            Path.Combine("src", "LambdaStreamingHosting.Testing", "Emulator", "RuntimeApiReplies.cs"),
        ];
        var sources = Directory.EnumerateFiles(Path.Combine(RepositoryRoot, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !path.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();
        Assert.Contains(sources, path => path.EndsWith(catalogues[0], StringComparison.Ordinal));

        var strays = sources
            .Where(path => !catalogues.Any(c => path.EndsWith(c, StringComparison.Ordinal)))
            .SelectMany(path => ErrorTypeLiteral().Matches(File.ReadAllText(path)).Select(m => $"{Path.GetRelativePath(RepositoryRoot, path)}: {m.Value}"))
            .ToList();

        Assert.True(strays.Count == 0, $"Error types spelled outside the catalogues (use LambdaErrorTypes, or EmulatorErrorTypes in the emulator): {string.Join("; ", strays)}.");
    }

    private static List<(string Name, string Value)> ConstantsOf(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (f.Name, (string)f.GetRawConstantValue()!))
            .ToList();

    private static string FindRepositoryRoot()
    {
        var root = typeof(ErrorTypesDocumentTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == "RepositoryRoot")?.Value;
        if (root is null || !File.Exists(Path.Combine(root, "LambdaStreamingHosting.sln")))
        {
            throw new InvalidOperationException($"The repository root recorded at build time ('{root}') does not contain LambdaStreamingHosting.sln: rebuild the tests.");
        }

        return root;
    }

    [GeneratedRegex(@"\bLambdaStreaming\.[A-Za-z0-9]+")]
    private static partial Regex LambdaStreamingName();

    [GeneratedRegex(@"""(?:LambdaStreaming|Runtime|Sandbox|Function|Emulator)\.[A-Z][A-Za-z0-9]*""")]
    private static partial Regex ErrorTypeLiteral();

    /// <summary>
    /// The doc's text, and the error types named (in backticks) in the first cell of its table rows: those of the
    /// emulator's section apart from the others.
    /// </summary>
    private sealed partial record ErrorsDocument(string Text, HashSet<string> ServerRows, HashSet<string> EmulatorRows)
    {
        public static ErrorsDocument Parse(string[] lines)
        {
            var server = new HashSet<string>(StringComparer.Ordinal);
            var emulator = new HashSet<string>(StringComparer.Ordinal);
            var rows = server;
            foreach (var line in lines)
            {
                if (line.StartsWith("## ", StringComparison.Ordinal))
                {
                    rows = line[3..].Trim() == EmulatorSection ? emulator : server;
                    continue;
                }

                if (!line.StartsWith('|'))
                {
                    continue;
                }

                var firstCell = line.Split('|')[1].Trim();
                if (firstCell == "errorType" || firstCell.StartsWith("---", StringComparison.Ordinal))
                {
                    continue;
                }

                foreach (Match name in Backticked().Matches(firstCell))
                {
                    rows.Add(name.Groups[1].Value);
                }
            }

            return new ErrorsDocument(string.Join('\n', lines), server, emulator);
        }

        [GeneratedRegex("`([^`]+)`")]
        private static partial Regex Backticked();
    }
}
