using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace LambdaStreamingHosting.Tool.Tests;

/// <summary>
/// The runner's timeline page in a real browser (Debian's chromium, driven by Playwright) while the real tool runs the
/// real test function (frozen between invocations): what the page shows is checked as it happens, each step after
/// the app is known to be blocked on a gate the test opens, never after a sleep.
/// </summary>
public sealed partial class TimelinePageTests(TimelinePageTests.Runner runner) : IClassFixture<TimelinePageTests.Runner>
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(90);

    [ChromiumFact]
    public async Task The_page_shows_each_chunk_as_it_reaches_the_client_while_the_app_streams()
    {
        var page = await runner.OpenPageAsync();
        using var gate = new NamedPipe();
        var tag = Guid.NewGuid().ToString("N")[..12];
        using var client = runner.CreateClient();

        using var response = await client.GetAsync($"chunks?count=3&tag={tag}&gate={Uri.EscapeDataString(gate.Path)}", HttpCompletionOption.ResponseHeadersRead);
        using var body = new StreamReader(await response.Content.ReadAsStreamAsync());
        var row = Row(page, tag);

        // The app wrote one line and waits on the gate: the page shows one chunk, and the invocation still running.
        Assert.Equal("chunk 1", await body.ReadLineAsync().WaitAsync(Generous));
        await Expect(row.Locator("svg line.chunk")).ToHaveCountAsync(1);
        await Expect(row.Locator(".chunks")).ToHaveTextAsync("1 chunk");
        await Expect(row).ToHaveClassAsync(new Regex(@"\blive\b"));
        await Expect(row.Locator(".status")).ToHaveTextAsync("200");
        // Not the tool's first invocation (the runner made one), and the app was frozen while idle.
        await Expect(row.Locator(".start")).ToHaveTextAsync("thawed");

        await gate.OpenAsync();
        Assert.Equal("chunk 2", await body.ReadLineAsync().WaitAsync(Generous));
        await Expect(row.Locator("svg line.chunk")).ToHaveCountAsync(2);
        await Expect(row.Locator(".chunks")).ToHaveTextAsync("2 chunks");
        await Expect(row).ToHaveClassAsync(new Regex(@"\blive\b"));

        await gate.OpenAsync();
        Assert.Equal("chunk 3", await body.ReadLineAsync().WaitAsync(Generous));
        Assert.Null(await body.ReadLineAsync().WaitAsync(Generous));
        await Expect(row).ToHaveClassAsync(new Regex(@"\bended\b"));
        await Expect(row.Locator("svg line.chunk")).ToHaveCountAsync(3);
        await Expect(row.Locator(".chunks")).ToHaveTextAsync("3 chunks");
        await Expect(row.Locator(".shape")).ToHaveTextAsync(new Regex("^streamed over "));
        await Expect(row.Locator(".bytes")).ToHaveTextAsync("24 B"); // "chunk 1\n" three times
        await Expect(row.Locator(".method")).ToHaveTextAsync("GET");
        await Expect(row).Not.ToHaveClassAsync(new Regex(@"\bfailed\b"));

        // The chunks sit at different moments: each tick right of the one before.
        var positions = await row.Locator("svg line.chunk").EvaluateAllAsync<double[]>("ticks => ticks.map(t => Number(t.getAttribute('x1')))");
        Assert.True(positions[0] < positions[1] && positions[1] < positions[2], $"tick positions {string.Join(", ", positions)}");
    }

    [ChromiumFact]
    public async Task A_response_written_at_the_end_in_one_piece_shows_as_one_block()
    {
        var page = await runner.OpenPageAsync();
        using var gate = new NamedPipe();
        var tag = Guid.NewGuid().ToString("N")[..12];
        using var client = runner.CreateClient();

        var answer = client.GetStringAsync($"block?tag={tag}&gate={Uri.EscapeDataString(gate.Path)}");
        var row = Row(page, tag);

        // The app holds the request and has written nothing: a row with no chunk yet.
        await Expect(row).ToHaveClassAsync(new Regex(@"\blive\b"));
        await Expect(row.Locator(".chunks")).ToHaveTextAsync("0 chunks");
        await gate.OpenAsync();

        Assert.Equal(1400, (await answer.WaitAsync(Generous)).Length);
        await Expect(row).ToHaveClassAsync(new Regex(@"\bended\b"));
        await Expect(row.Locator("svg line.chunk")).ToHaveCountAsync(1);
        await Expect(row.Locator(".chunks")).ToHaveTextAsync("1 chunk");
        await Expect(row.Locator(".shape")).ToHaveTextAsync("one block");
        await Expect(row.Locator(".bytes")).ToHaveTextAsync("1.4 KB");
    }

    [ChromiumFact]
    public async Task A_function_error_shows_in_red()
    {
        var page = await runner.OpenPageAsync();
        var tag = Guid.NewGuid().ToString("N")[..12];
        using var client = runner.CreateClient();

        // The response started ("partial"), then the function failed: the client's connection is cut.
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.GetStringAsync($"fail?tag={tag}"));

        var row = Row(page, tag);
        await Expect(row).ToHaveClassAsync(new Regex(@"\bfailed\b"));
        var error = row.Locator(".problems li.error");
        await Expect(error).ToContainTextAsync("InvalidOperationException");
        await Expect(error).ToContainTextAsync("The application failed."); // no exception details unless the app asks
        await Expect(error).ToHaveCSSAsync("color", "rgb(198, 40, 40)");
        await Expect(row.Locator(".chunks")).ToHaveTextAsync("1 chunk");
    }

    [ChromiumFact]
    public async Task A_request_target_shows_as_text_never_as_markup()
    {
        var page = await runner.OpenPageAsync();
        var tag = Guid.NewGuid().ToString("N")[..12];
        var markup = "<img/src=x/onerror=document.title='injected'>";

        // Sent raw, as an attacker would: no client library escapes the target.
        var status = await runner.SendRawAsync($"GET /hello?tag={tag}&q={markup} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        Assert.Equal(404, status); // the app has no /hello

        var row = Row(page, tag);
        await Expect(row.Locator(".target")).ToHaveTextAsync($"/hello?tag={tag}&q={markup}");
        await Expect(page.Locator("tbody img")).ToHaveCountAsync(0);
        Assert.Equal("Lambda invocations", await page.TitleAsync());
    }

    private static ILocator Row(IPage page, string tag) =>
        page.Locator("tr.invocation").Filter(new() { Has = page.Locator(".target", new() { HasText = tag }) });

    /// <summary>
    /// The real tool running the test function with --freeze, one invocation already made (so the tests' are not the
    /// cold start), and one headless chromium; each test opens its own page.
    /// </summary>
    public sealed partial class Runner : IAsyncLifetime
    {
        private readonly List<IBrowserContext> _contexts = [];
        private ToolProcess? _tool;
        private IPlaywright? _playwright;
        private IBrowser? _browser;

        public Uri FunctionUrl { get; private set; } = null!;

        public Uri TimelineUrl { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            if (!ChromiumFactAttribute.Available)
            {
                return;
            }

            SetDefaultExpectTimeout((float)Generous.TotalMilliseconds);
            _tool = ToolProcess.Start("run", "--port", "0", "--freeze", "--", "dotnet", FunctionApp.AssemblyPath);
            FunctionUrl = new Uri((await _tool.Output.WaitForAsync(FunctionUrlLine(), timeout: Generous)).Groups[1].Value);
            TimelineUrl = new Uri((await _tool.Output.WaitForAsync(TimelineLine(), timeout: Generous)).Groups[1].Value);
            Assert.Equal(new Uri(FunctionUrl, "/_lambda/"), TimelineUrl);
            using (var client = CreateClient())
            {
                await client.GetStringAsync("pid"); // the cold start
            }

            // No browser download here: Playwright drives Debian's chromium (it gives each launch a fresh profile).
            Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
            _playwright = await Playwright.CreateAsync();
            _browser = await _playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = ChromiumFactAttribute.ExecutablePath,
                Headless = true,
                Args =
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                ],
            });
        }

        public HttpClient CreateClient() => new() { BaseAddress = FunctionUrl, Timeout = Generous };

        /// <summary>Opens the timeline in a new page and waits until its event stream is connected.</summary>
        public async Task<IPage> OpenPageAsync()
        {
            var context = await _browser!.NewContextAsync(new() { ViewportSize = new() { Width = 1400, Height = 700 } });
            lock (_contexts)
            {
                _contexts.Add(context);
            }

            var page = await context.NewPageAsync();
            List<string> problems = [];
            page.Console += (_, message) =>
            {
                if (message.Type == "error")
                {
                    lock (problems)
                    {
                        problems.Add(message.Text);
                    }
                }
            };
            page.PageError += (_, error) =>
            {
                lock (problems)
                {
                    problems.Add(error);
                }
            };
            await page.GotoAsync(TimelineUrl.ToString());
            await Expect(page.Locator("#connection")).ToHaveTextAsync("live");
            // The earlier invocations are listed from the start: at least the runner's cold one.
            await Expect(page.Locator("tr.invocation").Filter(new() { HasText = "/pid" }).Locator(".start")).ToHaveTextAsync("cold start");
            lock (problems)
            {
                // A script or style refused by the page's content security policy, or a script error, shows here.
                Assert.Empty(problems);
            }

            return page;
        }

        /// <summary>Sends bytes as they are to the Function URL port and returns the response's status code.</summary>
        public async Task<int> SendRawAsync(string request)
        {
            using var socket = new TcpClient();
            await socket.ConnectAsync(IPAddress.Loopback, FunctionUrl.Port);
            var stream = socket.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
            using var reader = new StreamReader(stream, Encoding.ASCII);
            var statusLine = await reader.ReadLineAsync().WaitAsync(Generous) ?? "";
            await reader.ReadToEndAsync().WaitAsync(Generous);
            var match = StatusLine().Match(statusLine);
            Assert.True(match.Success, $"status line '{statusLine}'");
            return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        public async Task DisposeAsync()
        {
            // After the tests, a page opened now lists their invocations: saved when LAMBDA_STREAMING_TIMELINE_SCREENSHOT
            // names a file (how the README's picture in docs/ is made).
            if (_browser is not null && Environment.GetEnvironmentVariable("LAMBDA_STREAMING_TIMELINE_SCREENSHOT") is { Length: > 0 } path)
            {
                var page = await OpenPageAsync();
                await page.ScreenshotAsync(new() { Path = path, FullPage = true });
            }

            foreach (var context in _contexts)
            {
                await context.CloseAsync();
            }

            if (_browser is not null)
            {
                await _browser.CloseAsync();
            }

            _playwright?.Dispose();
            if (_tool is not null)
            {
                await _tool.SignalAsync("INT");
                Assert.Equal(0, await _tool.WaitForExitAsync(Generous));
                _tool.Dispose();
            }
        }

        [GeneratedRegex(@"^lambda-streaming: Function URL (http://127\.0\.0\.1:\d+/) ")]
        private static partial Regex FunctionUrlLine();

        [GeneratedRegex(@"^lambda-streaming: timeline (http://127\.0\.0\.1:\d+/_lambda/)$")]
        private static partial Regex TimelineLine();

        [GeneratedRegex(@"^HTTP/1\.1 (\d{3}) ")]
        private static partial Regex StatusLine();
    }
}

/// <summary>A test that needs Debian's chromium (<c>apt-get install chromium</c>); skipped, and says so, where it is not installed.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string ExecutablePath = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!Available)
        {
            Skip = $"No chromium at {ExecutablePath}: this test opens the timeline page in a real browser; install it with 'apt-get install chromium' (.ci/run does).";
        }
    }

    public static bool Available => File.Exists(ExecutablePath);
}
