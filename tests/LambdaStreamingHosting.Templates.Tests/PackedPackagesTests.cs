using System.Diagnostics;
using System.Xml.Linq;
using Xunit.Abstractions;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// The packages work together as packages, through each other's public API: the core, <c>.Testing</c>, <c>.Npgsql</c>
/// and <c>.EntityFrameworkCore</c> are packed from this checkout into a folder, under a version no cache can hold, and
/// an app outside the repository (its own NuGet cache, its package references only) runs one
/// <c>LambdaApplicationFactory</c> test: <c>.Testing</c> drives the packed core's Lambda server, and on the invocation
/// after a thaw the EF Core line calls into the packed Npgsql package (the options validator at start, the thaw check,
/// the question whether the data source line checks it). A call into a member a package does not make public fails the
/// pack's build (the packages open their internals to no other package, Docs/PackageBoundaryTests); a package
/// dependency that is missing or names the wrong package fails the restore; a call that does not bind at run time fails
/// the request with a <c>MissingMethodException</c>. The README's template test covers the core and <c>.Testing</c> as
/// well, with every package and far more; this one is the quick check of the package boundaries.
/// </summary>
public sealed class PackedPackagesTests(ITestOutputHelper output)
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(5);

    private static readonly string[] Packed =
        ["LambdaStreamingHosting", "LambdaStreamingHosting.Testing", "LambdaStreamingHosting.Npgsql", "LambdaStreamingHosting.EntityFrameworkCore"];

    [Fact]
    public async Task An_app_on_the_packed_testing_and_ef_core_packages_runs_on_the_packed_core_and_npgsql_packages()
    {
        using var work = new TemporaryDirectory("lambda-streaming-packed");
        var feed = work.Combine("feed");
        var version = $"0.0.0-packed.{Guid.NewGuid():N}"; // a version no cache holds: what restores is what was packed here
        var started = Stopwatch.GetTimestamp();

        await PackAsync(work, feed, version);
        Assert.All(Packed, id => Assert.True(File.Exists(Path.Combine(feed, $"{id}.{version}.nupkg")), $"{id} was not packed"));
        Log(started, "packed");

        var app = work.Combine("app");
        await WriteAppAsync(app, feed, version);
        var environment = new Dictionary<string, string>
        {
            // A cache of our own; the machine's serves the other packages read-only (nuget.config, fallback folder).
            ["NUGET_PACKAGES"] = work.Combine("nuget-packages"),
            ["DOTNET_CLI_HOME"] = work.Combine("dotnet-home"),
        };
        var test = await DotNetCli.RunAsync(["test", "PackedApp.Tests", "--logger", "console;verbosity=normal"], app, StepTimeout, environment);
        test.EnsureSuccess("dotnet test of the app on the packed packages");
        Assert.Contains(test.Lines, l => l.Contains("Passed PackedApp.Tests.AppTests.", StringComparison.Ordinal));
        Log(started, "restored, built and tested the app");

        // The app ran on the packed assemblies, not on a build of this checkout.
        var restored = work.Combine("nuget-packages");
        Assert.All(Packed, id => Assert.True(Directory.Exists(Path.Combine(restored, id.ToLowerInvariant(), version)), $"{id} {version} was not restored"));
    }

    private void Log(long started, string step) =>
        output.WriteLine($"{Stopwatch.GetElapsedTime(started).TotalSeconds,6:F0} s  {step}");

    /// <summary>Packs the four projects from this checkout, built into the work folder (not the projects' bin and obj).</summary>
    private static async Task PackAsync(TemporaryDirectory work, string feed, string version)
    {
        var projects = string.Join(';', Packed.Select(id => Path.Combine(RepositoryPaths.Root, "src", id, $"{id}.csproj")));
        var properties = $"Configuration=Release;Version={version};ArtifactsPath={work.Combine("build")}/;PackageOutputPath={feed}/";
        var traversal = work.Combine("pack.proj");
        await File.WriteAllTextAsync(traversal, $"""
            <Project DefaultTargets="Pack">
              <ItemGroup>
                <PackedProject Include="{projects}" />
              </ItemGroup>
              <Target Name="Restore">
                <MSBuild Projects="@(PackedProject)" Targets="Restore" Properties="{properties}" />
              </Target>
              <Target Name="Pack">
                <MSBuild Projects="@(PackedProject)" Targets="Build" Properties="{properties}" BuildInParallel="true" />
                <MSBuild Projects="@(PackedProject)" Targets="Pack" Properties="{properties};NoBuild=true" BuildInParallel="true" />
              </Target>
            </Project>
            """);
        (await DotNetCli.RunAsync(["msbuild", traversal, "-restore", "-t:Pack", "-nologo", "-v:minimal"], work.Path, StepTimeout)).EnsureSuccess("pack");
    }

    /// <summary>
    /// An app with the EF Core line on an Npgsql context whose server refuses connections, and its test: the request after
    /// the thaw makes the context open its connection, so the thaw check runs first.
    /// </summary>
    private static async Task WriteAppAsync(string app, string feed, string version)
    {
        var versions = XDocument.Load(Path.Combine(RepositoryPaths.Root, "Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(p => (string)p.Attribute("Include")!, p => (string)p.Attribute("Version")!);
        var machineCache = (await DotNetCli.RunAsync(["nuget", "locals", "global-packages", "--list"], RepositoryPaths.Root, StepTimeout))
            .EnsureSuccess("dotnet nuget locals").Lines.Single(l => l.StartsWith("global-packages:", StringComparison.Ordinal))["global-packages:".Length..].Trim();

        await WriteAsync(app, "nuget.config", $"""
            <configuration>
              <packageSources>
                <add key="packed" value="{feed}" />
              </packageSources>
              <fallbackPackageFolders>
                <add key="machine" value="{machineCache}" />
              </fallbackPackageFolders>
              <packageSourceMapping>
                <packageSource key="packed">
                  <package pattern="LambdaStreamingHosting" />
                  <package pattern="LambdaStreamingHosting.*" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        await WriteAsync(app, "Directory.Build.props", """
            <Project>
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
            </Project>
            """);
        await WriteAsync(app, "PackedApp/PackedApp.csproj", $"""
            <Project Sdk="Microsoft.NET.Sdk.Web">
              <ItemGroup>
                <PackageReference Include="LambdaStreamingHosting.EntityFrameworkCore" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        await WriteAsync(app, "PackedApp/Program.cs", """
            using Microsoft.EntityFrameworkCore;
            using Npgsql;

            var builder = WebApplication.CreateBuilder(args);
            builder.Services.AddLambdaStreaming();
            // Nothing listens on port 1: every open is refused at once.
            builder.Services.AddDbContextPool<AppDb>(o => o.UseNpgsql("Host=127.0.0.1;Port=1;Timeout=5"));
            builder.Services.AddLambdaDbContextLifecycle<AppDb>(o => o.WarmConnections = 0);
            var thawChecks = new ThawCheckCounter();
            builder.Logging.AddProvider(thawChecks).AddFilter<ThawCheckCounter>(null, LogLevel.Debug);
            var app = builder.Build();
            app.MapGet("/", () => "up");
            app.MapGet("/db", async (AppDb db) =>
            {
                try
                {
                    await db.Database.OpenConnectionAsync();
                    return "opened";
                }
                catch (Exception e) when (e is NpgsqlException || e.InnerException is NpgsqlException)
                {
                    return $"refused after {thawChecks.Count} thaw check(s)";
                }
            });
            app.Run();

            public partial class Program;

            public sealed class AppDb(DbContextOptions<AppDb> options) : DbContext(options);

            /// <summary>Counts the thaw checks the Npgsql package reports (event 102: the idle connections were checked).</summary>
            public sealed class ThawCheckCounter : ILoggerProvider, ILogger
            {
                private int _count;

                public int Count => Volatile.Read(ref _count);

                public ILogger CreateLogger(string categoryName) => this;

                public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

                public bool IsEnabled(LogLevel logLevel) => true;

                public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
                {
                    if (eventId.Id == 102 && formatter(state, exception).StartsWith("After the thaw", StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref _count);
                    }
                }

                public void Dispose()
                {
                }
            }
            """);
        await WriteAsync(app, "PackedApp.Tests/PackedApp.Tests.csproj", $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <IsTestProject>true</IsTestProject>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="LambdaStreamingHosting.Testing" Version="{version}" />
                <PackageReference Include="Microsoft.NET.Test.Sdk" Version="{versions["Microsoft.NET.Test.Sdk"]}" />
                <PackageReference Include="xunit" Version="{versions["xunit"]}" />
                <PackageReference Include="xunit.runner.visualstudio" Version="{versions["xunit.runner.visualstudio"]}" PrivateAssets="all" />
              </ItemGroup>
              <ItemGroup>
                <ProjectReference Include="../PackedApp/PackedApp.csproj" />
              </ItemGroup>
            </Project>
            """);
        await WriteAsync(app, "PackedApp.Tests/AppTests.cs", """
            using LambdaStreamingHosting.Testing;
            using Xunit;

            namespace PackedApp.Tests;

            public sealed class AppTests
            {
                [Fact]
                public async Task The_request_after_a_thaw_runs_the_ef_core_line_on_the_npgsql_package()
                {
                    await using var factory = new LambdaApplicationFactory<Program>();
                    using var client = factory.CreateClient();
                    Assert.Equal("up", await client.GetStringAsync("/"));     // the first invocation: no thaw before it
                    // After the thaw: the EF Core line has the Npgsql package check the pool, then opens (and retries once).
                    Assert.Equal("refused after 1 thaw check(s)", await client.GetStringAsync("/db"));
                }
            }
            """);
    }

    private static async Task WriteAsync(string root, string relativePath, string content)
    {
        var path = Path.Combine(root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, content);
    }
}
