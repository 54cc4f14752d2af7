using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using System.Text.RegularExpressions;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// The example published with Native AOT, as deploy.sh does for provided.al2023: no trimming or AOT warning from any
/// assembly (our libraries included), and the native <c>bootstrap</c> serves streamed requests under the emulator.
/// </summary>
public sealed partial class NativeAotTests
{
    [Fact]
    public async Task The_example_publishes_as_native_aot_without_warnings_and_streams_under_the_emulator()
    {
        using var work = new TemporaryDirectory("lambda-streaming-aot");
        var output = work.Combine("out");
        var publish = await DotNetCli.RunAsync(
            ["publish", RepositoryPaths.Example, "-c", "Release", "-r", "linux-x64", "-p:PublishAot=true",
             "-p:TreatWarningsAsErrors=true", "-p:TrimmerSingleWarn=false", "--artifacts-path", work.Combine("artifacts"), "-o", output],
            // The bound catches a hang, not slowness: ILC takes 1-2 minutes alone but shares 2 cores with the other suites.
            RepositoryPaths.Root, TimeSpan.FromMinutes(25));
        publish.EnsureSuccess("dotnet publish -p:PublishAot=true");
        Assert.DoesNotContain(publish.Lines, l => TrimOrAotWarning().IsMatch(l));

        var bootstrap = Path.Combine(output, "bootstrap");
        Assert.True(File.Exists(bootstrap), "the native executable is named bootstrap, as provided.al2023 expects");
        Assert.False(File.Exists(Path.Combine(output, "bootstrap.dll")), "the AOT build must not need the .NET runtime");

        await using var function = new FunctionProcess(new FunctionProcessOptions
        {
            FileName = bootstrap,
            WorkingDirectory = output,
            Environment = { ["Tokens__DelayMilliseconds"] = "5" },
        });
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function });
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(TimeSpan.FromSeconds(30));
        using var client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = TimeSpan.FromSeconds(60) };

        // Server-sent events, through the Function URL's streaming front door.
        using (var response = await client.GetAsync("tokens", HttpCompletionOption.ResponseHeadersRead))
        {
            response.EnsureSuccessStatusCode();
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            var items = new List<SseItem<string>>();
            await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
            {
                items.Add(item);
            }

            Assert.True(items.Count > 5, $"only {items.Count} events: {function.RecentOutput}");
            Assert.All(items[..^1], i => Assert.Equal("token", i.EventType));
            Assert.Equal("done", items[^1].EventType);
        }

        // IAsyncEnumerable JSON through source-generated serialization.
        using (var feed = await client.GetAsync("feed?count=3&intervalMs=0"))
        {
            Assert.True(feed.IsSuccessStatusCode, $"GET /feed answered {(int)feed.StatusCode}: {await feed.Content.ReadAsStringAsync()}\n{function.RecentOutput}");
            var items = await feed.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(3, items.GetArrayLength());
        }

        // Cookies: one Set-Cookie per cookie.
        using (var cookies = await client.GetAsync("cookies"))
        {
            Assert.Equal(2, cookies.Headers.GetValues("Set-Cookie").Count());
        }

        // A streamed download larger than the buffered limit.
        var download = await client.GetByteArrayAsync("download?mb=7");
        Assert.Equal(7 * 1024 * 1024, download.Length);

        // Razor components are left out of the AOT build (they are not AOT compatible): the route does not exist.
        using (var report = await client.GetAsync("report"))
        {
            Assert.Equal(HttpStatusCode.NotFound, report.StatusCode);
        }

        Assert.Empty(emulator.ProtocolViolations);
    }

    // Trim analysis (IL2xxx) and AOT analysis (IL3xxx) warnings, from the compiler, the trimmer or ILC.
    [GeneratedRegex(@"\bwarning IL[23]\d{3}\b")]
    private static partial Regex TrimOrAotWarning();
}
