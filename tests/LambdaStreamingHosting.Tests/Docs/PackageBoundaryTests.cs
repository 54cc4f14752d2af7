using System.Reflection;
using System.Runtime.CompilerServices;

namespace LambdaStreamingHosting.Tests.Docs;

/// <summary>
/// The shipping packages use the core's public API only: the core opens its internals to test projects and benchmarks,
/// never to a project under <c>src/</c>, so a user who updates one package and not another cannot get a
/// <c>MissingMethodException</c> from a call into internals that changed (README, Packages).
/// </summary>
public sealed class PackageBoundaryTests
{
    [Fact]
    public void The_core_opens_its_internals_to_no_shipping_package()
    {
        var shipping = Directory.GetDirectories(Path.Combine(FindRepositoryRoot(), "src")).Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("LambdaStreamingHosting.Testing", shipping);

        var friends = typeof(LambdaHostingInfo).Assembly.GetCustomAttributes<InternalsVisibleToAttribute>().Select(a => a.AssemblyName).ToList();

        Assert.Contains("LambdaStreamingHosting.Tests", friends); // the check reads the real attributes
        Assert.DoesNotContain(friends, shipping.Contains);
    }

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
