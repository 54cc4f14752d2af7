using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace LambdaStreamingHosting.Tests.Docs;

/// <summary>
/// The shipping packages use each other's public API only: a package opens its internals to test projects and
/// benchmarks, never to another package under <c>src/</c>, so a user who updates one package and not another cannot get
/// a <c>MissingMethodException</c> from a call into internals that changed (README, Packages). Without such a grant the
/// compiler refuses every use of another assembly's internal members; what is left to check is that no package reaches
/// them at run time instead (<c>UnsafeAccessor</c>, <c>IgnoresAccessChecksTo</c>). The one grant between shipping
/// projects is to the <c>lambda-streaming</c> tool, whose package carries its own copy of the granting assembly.
/// </summary>
public sealed partial class PackageBoundaryTests
{
    // Grantee => granting project: a .NET tool package ships the assemblies of the projects it references inside itself
    // (tools/net10.0/any, no package dependencies), so the two can never come in different versions.
    private static readonly Dictionary<string, string> BundledGrants = new(StringComparer.Ordinal)
    {
        ["LambdaStreamingHosting.Tool"] = "LambdaStreamingHosting.Testing",
    };

    [Fact]
    public void The_core_opens_its_internals_to_no_shipping_package()
    {
        var shipping = Directory.GetDirectories(Path.Combine(FindRepositoryRoot(), "src")).Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("LambdaStreamingHosting.Testing", shipping);

        var friends = typeof(LambdaHostingInfo).Assembly.GetCustomAttributes<InternalsVisibleToAttribute>().Select(a => a.AssemblyName).ToList();

        Assert.Contains("LambdaStreamingHosting.Tests", friends); // the check reads the real attributes
        Assert.DoesNotContain(friends, shipping.Contains);
    }

    [Fact]
    public void No_shipping_package_opens_its_internals_to_another()
    {
        var projects = ShippingProjects();
        Assert.Contains("LambdaStreamingHosting.Npgsql", projects.Keys);
        Assert.Contains("LambdaStreamingHosting.EntityFrameworkCore", projects.Keys);

        var grants = projects.SelectMany(p => Grants(p.Value).Select(friend => (Granter: p.Key, Friend: friend))).ToList();
        Assert.Contains(("LambdaStreamingHosting.Testing", "LambdaStreamingHosting.Testing.Tests"), grants); // the check reads the real grants

        var betweenPackages = grants.Where(g => projects.ContainsKey(g.Friend)).ToList();
        var unbundled = betweenPackages.Where(g => !IsBundledInto(projects, g.Granter, g.Friend)).Select(g => $"{g.Granter} -> {g.Friend}").ToList();
        Assert.True(unbundled.Count == 0, "shipping packages open their internals to other shipping packages: " + string.Join(", ", unbundled));
        Assert.Equal(BundledGrants.Select(b => (b.Value, b.Key)).Order(), betweenPackages.Order());
    }

    [Fact]
    public void No_shipping_package_reaches_internals_at_run_time()
    {
        var sources = ShippingProjects().Values.SelectMany(Sources).ToList();
        Assert.Contains(sources, f => f.EndsWith("NpgsqlPoolThawCheck.cs", StringComparison.Ordinal));

        var offenders = sources.Where(f => AccessCheckBypass().IsMatch(File.ReadAllText(f))).Select(Path.GetFileName).ToList();
        Assert.True(offenders.Count == 0, "shipping code bypasses access checks: " + string.Join(", ", offenders));
    }

    /// <summary>Every project directly under src/ (each one is a package), by assembly name.</summary>
    private static Dictionary<string, string> ShippingProjects() =>
        Directory.GetDirectories(Path.Combine(FindRepositoryRoot(), "src"))
            .SelectMany(directory => Directory.GetFiles(directory, "*.csproj"))
            .ToDictionary(project => Property(project, "AssemblyName") ?? Path.GetFileNameWithoutExtension(project), StringComparer.Ordinal);

    /// <summary>The assemblies a project opens its internals to, as items or as assembly attributes in its sources.</summary>
    private static IEnumerable<string> Grants(string project)
    {
        foreach (var item in XDocument.Load(project).Descendants("InternalsVisibleTo"))
        {
            yield return (string?)item.Attribute("Include") ?? throw new Xunit.Sdk.XunitException($"{project}: an InternalsVisibleTo item without Include");
        }

        foreach (var file in Sources(project))
        {
            foreach (Match match in InternalsVisibleToAttribute().Matches(File.ReadAllText(file)))
            {
                yield return match.Groups[1].Value.Split(',')[0].Trim();
            }
        }
    }

    /// <summary>The C# files of a project, without what the build generates (obj/ holds the items turned into attributes).</summary>
    private static IEnumerable<string> Sources(string project)
    {
        var directory = Path.GetDirectoryName(project)!;
        return Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories)
            .Where(file => Path.GetRelativePath(directory, file).Split(Path.DirectorySeparatorChar)[0] is not ("obj" or "bin"));
    }

    /// <summary>Whether <paramref name="friend"/> is a .NET tool whose package carries <paramref name="granter"/>'s assembly.</summary>
    private static bool IsBundledInto(Dictionary<string, string> projects, string granter, string friend)
    {
        if (!BundledGrants.TryGetValue(friend, out var bundled) || bundled != granter)
        {
            return false;
        }

        var tool = XDocument.Load(projects[friend]);
        var referencesGranter = tool.Descendants("ProjectReference")
            .Any(r => Path.GetFileNameWithoutExtension(((string?)r.Attribute("Include") ?? "").Replace('\\', '/')) == Path.GetFileNameWithoutExtension(projects[granter]));
        return string.Equals(Property(projects[friend], "PackAsTool"), "true", StringComparison.OrdinalIgnoreCase) && referencesGranter;
    }

    private static string? Property(string project, string name) =>
        XDocument.Load(project).Descendants(name).Select(e => e.Value.Trim()).FirstOrDefault();

    [GeneratedRegex(@"\[\s*assembly\s*:\s*(?:System\.Runtime\.CompilerServices\.)?InternalsVisibleTo(?:Attribute)?\s*\(\s*""([^""]+)""")]
    private static partial Regex InternalsVisibleToAttribute();

    [GeneratedRegex(@"\bUnsafeAccessor\b|\bIgnoresAccessChecksTo")]
    private static partial Regex AccessCheckBypass();

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (Directory.Exists(Path.Combine(directory.FullName, "src", "LambdaStreamingHosting")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No src/LambdaStreamingHosting above {AppContext.BaseDirectory}.");
    }
}
