using System.Net;
using System.Text;
using System.Text.Json;
using LambdaStreamingHosting.Tests.Events;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// Kestrel's request limits, side by side: each <see cref="RequestLimitCase"/> is sent as raw HTTP/1.1 bytes to a real
/// Kestrel on loopback, and as the event of every front end (Function URL, HTTP API, REST, ALB single- and multi-value)
/// through the fake Runtime API to the Lambda server in both invoke modes. Every answer must have Kestrel's status; a
/// refused request has an empty body and never reaches the app. Under the lowered profile both servers run with the
/// same lowered limits (the Lambda server's bound from <c>LambdaStreaming:Limits:*</c>).
/// </summary>
public sealed class RequestLimitsTests(RequestLimitsTests.Servers servers) : IClassFixture<RequestLimitsTests.Servers>
{
    public static TheoryData<string> CaseNames => [.. RequestLimitCase.All.Keys];

    [Fact]
    public void The_defaults_are_Kestrels()
    {
        var kestrel = new KestrelServerLimits();
        var ours = new LambdaStreamingOptions().Limits;

        Assert.Equal(kestrel.MaxRequestHeadersTotalSize, ours.MaxRequestHeadersTotalSize);
        Assert.Equal(kestrel.MaxRequestHeaderCount, ours.MaxRequestHeaderCount);
        Assert.Equal(kestrel.MaxRequestLineSize, ours.MaxRequestLineSize);
        Assert.Equal((kestrel.MaxRequestHeadersTotalSize, kestrel.MaxRequestHeaderCount, kestrel.MaxRequestLineSize), RequestLimitCase.DefaultLimits);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Each_front_end_answers_as_Kestrel_does(string name)
    {
        var testCase = RequestLimitCase.All[name];
        var lowered = name.StartsWith("lowered:", StringComparison.Ordinal);

        var kestrel = await RawHttp.SendAsync(lowered ? servers.LoweredKestrelPort : servers.KestrelPort, testCase.RawRequest());
        Assert.Equal(testCase.KestrelStatus, kestrel.Status);
        Assert.Equal(kestrel.Status == 200 ? "ran" : "", kestrel.Body);

        var failures = new List<string>();
        foreach (var mode in new[] { LambdaInvokeMode.ResponseStream, LambdaInvokeMode.Buffered })
        {
            var lambda = servers.Lambda(mode, lowered);
            foreach (var shape in testCase.Shapes)
            {
                var ranBefore = lambda.AppRuns;
                var answer = await Answer.ReadAsync(await lambda.Api.Enqueue(testCase.Event(shape)).Answer.Within());
                var ran = lambda.AppRuns - ranBefore;
                var expected = kestrel.Status == 200 ? (200, "ran", 1) : (kestrel.Status, "", 0);
                if ((answer.Status, answer.Body, ran) != expected || (kestrel.Status != 200 && answer.HeaderNames.Count > 0))
                {
                    failures.Add($"{shape} ({mode}): {answer.Status}, body '{answer.Body}', headers [{string.Join(", ", answer.HeaderNames)}], app ran {ran}; Kestrel: {kestrel.Status}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Every_golden_event_is_within_Kestrels_limits()
    {
        var names = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Events", "Golden"), "*.json").Select(Path.GetFileName).ToList();

        Assert.NotEmpty(names);
        foreach (var name in names)
        {
            var refusal = LambdaStreamingHosting.Server.RequestLimits.Check(GoldenEvents.Map(name!), new LambdaStreamingLimits());
            Assert.False(refusal.IsRefused, $"{name}: {refusal}");
        }
    }

    [Fact]
    public void The_check_allocates_nothing()
    {
        var limits = new LambdaStreamingLimits();
        var request = GoldenEvents.Map("lambda_function_url_request.json");
        Assert.False(LambdaStreamingHosting.Server.RequestLimits.Check(request, limits).IsRefused);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            LambdaStreamingHosting.Server.RequestLimits.Check(request, limits);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>What the Runtime API received for an invocation: status, body and header names, streamed or buffered.</summary>
    internal sealed record Answer(int Status, string Body, IReadOnlyList<string> HeaderNames)
    {
        public static async Task<Answer> ReadAsync(FakeAnswer answer)
        {
            if (answer.Action != "response")
            {
                await answer.Completed.Within();
                throw new InvalidOperationException($"The invocation failed: {answer.Request.Headers.GetValueOrDefault("Lambda-Runtime-Function-Error-Type")} {answer.Request.BodyText}");
            }

            if (answer.IsStreaming)
            {
                var prelude = await answer.ReadPreludeAsync().Within();
                var body = Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().Within());
                return new(prelude.GetProperty("statusCode").GetInt32(), body, NamesIn(prelude));
            }

            await answer.Completed.Within();
            var document = JsonDocument.Parse(answer.Request.Body).RootElement;
            var text = document.TryGetProperty("body", out var b) ? b.GetString() ?? "" : "";
            if (document.TryGetProperty("isBase64Encoded", out var base64) && base64.GetBoolean())
            {
                text = Encoding.UTF8.GetString(Convert.FromBase64String(text));
            }

            return new(document.GetProperty("statusCode").GetInt32(), text, NamesIn(document));
        }

        private static List<string> NamesIn(JsonElement head)
        {
            var names = new List<string>();
            foreach (var property in new[] { "headers", "multiValueHeaders" })
            {
                if (head.TryGetProperty(property, out var headers) && headers.ValueKind == JsonValueKind.Object)
                {
                    names.AddRange(headers.EnumerateObject().Select(h => h.Name));
                }
            }

            if (head.TryGetProperty("cookies", out var cookies) && cookies.GetArrayLength() > 0)
            {
                names.Add("cookies");
            }

            return names;
        }
    }

    /// <summary>A Lambda server on its own fake Runtime API, counting the requests its app ran.</summary>
    public sealed class LambdaUnderTest : IAsyncDisposable
    {
        private int _appRuns;

        public FakeRuntimeApi Api { get; } = new();

        public WebApplication? App { get; private set; }

        public TestLogs Logs { get; } = new();

        public int AppRuns => Volatile.Read(ref _appRuns);

        public async Task StartAsync(LambdaInvokeMode mode, IReadOnlyDictionary<string, string?> configuration)
        {
            App = await TestApp.StartAsync(Api, app => app.Run(context =>
            {
                Interlocked.Increment(ref _appRuns);
                return context.Response.WriteAsync("ran");
            }), options => options.InvokeMode = mode, logs: Logs, configuration: configuration);
        }

        public async ValueTask DisposeAsync()
        {
            if (App is not null)
            {
                await App.StopAsync();
                await App.DisposeAsync();
            }

            await Api.DisposeAsync();
        }
    }

    /// <summary>Two Kestrels (Kestrel's limits, lowered limits) and four Lambda servers (each mode, each profile), shared by the cases.</summary>
    public sealed class Servers : IAsyncLifetime
    {
        private readonly LambdaUnderTest[] _lambda = [new(), new(), new(), new()];
        private WebApplication? _kestrel;
        private WebApplication? _loweredKestrel;

        public int KestrelPort { get; private set; }

        public int LoweredKestrelPort { get; private set; }

        public LambdaUnderTest Lambda(LambdaInvokeMode mode, bool lowered) => _lambda[(mode == LambdaInvokeMode.Buffered ? 1 : 0) + (lowered ? 2 : 0)];

        public async Task InitializeAsync()
        {
            (_kestrel, KestrelPort) = await StartKestrelAsync(_ => { });
            var (total, count, line) = RequestLimitCase.LoweredLimits;
            (_loweredKestrel, LoweredKestrelPort) = await StartKestrelAsync(limits =>
            {
                limits.MaxRequestHeadersTotalSize = total;
                limits.MaxRequestHeaderCount = count;
                limits.MaxRequestLineSize = line;
            });

            var loweredConfiguration = new Dictionary<string, string?>
            {
                ["LambdaStreaming:Limits:MaxRequestHeadersTotalSize"] = total.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["LambdaStreaming:Limits:MaxRequestHeaderCount"] = count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["LambdaStreaming:Limits:MaxRequestLineSize"] = line.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            foreach (var mode in new[] { LambdaInvokeMode.ResponseStream, LambdaInvokeMode.Buffered })
            {
                await Lambda(mode, lowered: false).StartAsync(mode, new Dictionary<string, string?>());
                await Lambda(mode, lowered: true).StartAsync(mode, loweredConfiguration);
                var bound = Lambda(mode, lowered: true).App!.Services.GetRequiredService<IOptions<LambdaStreamingOptions>>().Value.Limits;
                Assert.Equal((total, count, line), (bound.MaxRequestHeadersTotalSize, bound.MaxRequestHeaderCount, bound.MaxRequestLineSize));
            }
        }

        public async Task DisposeAsync()
        {
            foreach (var app in new[] { _kestrel, _loweredKestrel })
            {
                if (app is not null)
                {
                    await app.StopAsync();
                    await app.DisposeAsync();
                }
            }

            foreach (var lambda in _lambda)
            {
                await lambda.DisposeAsync();
            }
        }

        private static async Task<(WebApplication App, int Port)> StartKestrelAsync(Action<KestrelServerLimits> limits)
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(kestrel =>
            {
                limits(kestrel.Limits);
                kestrel.Listen(IPAddress.Loopback, 0);
            });
            var app = builder.Build();
            app.Run(context => context.Response.WriteAsync("ran"));
            await app.StartAsync().WaitAsync(TestApp.Timeout);
            var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
            return (app, new Uri(address).Port);
        }
    }
}
