using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>How refusals are logged, and how the limits are validated at start-up.</summary>
public sealed class RequestLimitRefusalTests : FakeRuntimeApiTest
{
    private readonly TestLogs _logs = new();

    [Fact]
    public async Task Each_refusal_is_logged_with_the_limit_hit_and_its_value()
    {
        App = await TestApp.StartAsync(Api, app => app.Run(context => context.Response.WriteAsync("ran")), logs: _logs);
        (string, string) host = ("Host", "example.com");
        var requests = new (string Target, (string, string)[] Headers, string Logged)[]
        {
            ("/" + new string('p', 9000), [host], $"its request line is {9000 + 1 + RequestLimitCase.LineOverhead} bytes, more than LambdaStreaming:Limits:MaxRequestLineSize (8192)"),
            ("/", [host, ("X-Big", new string('b', 40_000))], $"its header lines total {RequestLimitCase.LineBytes("Host", "example.com") + RequestLimitCase.LineBytes("X-Big", new string('b', 40_000))} bytes, more than LambdaStreaming:Limits:MaxRequestHeadersTotalSize (32768)"),
            ("/", [host, .. Enumerable.Range(1, 149).Select(i => ($"X-H{i}", "v"))], "it has 150 header lines, more than LambdaStreaming:Limits:MaxRequestHeaderCount (100)"),
            ("/", [host, ("X-Bad\nName", "v")], "header 'x-bad\\u000aname' has a character Kestrel refuses"),
            ("/", [host, ("X-Bad-Value", "a\0b")], "header 'x-bad-value' has a character Kestrel refuses"),
            ("/a%00", [host], "its target has a NUL character"),
        };
        foreach (var (target, headers, logged) in requests)
        {
            var testCase = new RequestLimitCase("log", target, headers, 0, []);
            await RequestLimitsTests.Answer.ReadAsync(await Api.Enqueue(testCase.Event(EventShape.FunctionUrl)).Answer.Within());

            var entry = Assert.Single(_logs.Entries, e => e.Message.Contains(logged, StringComparison.Ordinal));
            Assert.Equal(LogLevel.Warning, entry.Level);
            Assert.Contains("without running the app", entry.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', entry.Message);
            Assert.Contains(entry.Scopes, s => s?.ToString()?.StartsWith("AwsRequestId:", StringComparison.Ordinal) == true);
        }
    }

    [Fact]
    public async Task Limits_below_one_fail_at_startup_with_what_to_change()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestApp.StartAsync(Api, _ => { }, configuration: new Dictionary<string, string?>
        {
            ["LambdaStreaming:Limits:MaxRequestHeadersTotalSize"] = "0",
            ["LambdaStreaming:Limits:MaxRequestHeaderCount"] = "-1",
            ["LambdaStreaming:Limits:MaxRequestLineSize"] = "0",
        }));

        Assert.Contains("LambdaStreaming:Limits:MaxRequestHeadersTotalSize must be at least 1 byte (Kestrel's default is 32768); it is 0.", error.Failures);
        Assert.Contains("LambdaStreaming:Limits:MaxRequestHeaderCount must be at least 1 (Kestrel's default is 100); it is -1.", error.Failures);
        Assert.Contains("LambdaStreaming:Limits:MaxRequestLineSize must be at least 1 byte (Kestrel's default is 8192); it is 0.", error.Failures);
    }

    [Fact]
    public void The_delegate_sets_limits_after_the_configuration()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["LambdaStreaming:Limits:MaxRequestHeaderCount"] = "50";
        builder.Configuration["LambdaStreaming:Limits:MaxRequestLineSize"] = "4096";
        builder.Services.AddLambdaStreaming(options => options.Limits.MaxRequestLineSize = 16384);
        using var app = builder.Build();

        var limits = app.Services.GetRequiredService<IOptions<LambdaStreamingOptions>>().Value.Limits;
        Assert.Equal(50, limits.MaxRequestHeaderCount);
        Assert.Equal(16384, limits.MaxRequestLineSize);
        Assert.Equal(32 * 1024, limits.MaxRequestHeadersTotalSize);
    }
}
