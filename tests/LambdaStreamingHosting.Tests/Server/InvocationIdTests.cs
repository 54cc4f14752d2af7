using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// <c>Lambda-Runtime-Invocation-Id</c> over a real Runtime API connection: read from <c>/next</c>, sent back on every
/// answer of that invocation (streamed and buffered <c>/response</c>, <c>/error</c>) and on nothing else, never when
/// <c>/next</c> sent none or a value that is not a printable token; a <c>410</c> refusing a late answer is a warning and a
/// count, and the loop goes on.
/// </summary>
public sealed class InvocationIdTests : FakeRuntimeApiTest
{
    private const string Id = "6f1d0c2ab3e84c0f9a7e5d4c3b2a1908";
    private readonly TestLogs _logs = new();

    /// <summary>Every way an invocation is answered: the request's path and mode, the endpoint it ends on, and how.</summary>
    public static TheoryData<string, string, string, string> AnswerKinds() => new()
    {
        { "streamed", "/ok", "response", "a streamed answer" },
        { "streamed", "/fail-mid-stream", "response", "error trailers after the first bytes" },
        { "streamed", "/throw", "response", "a 500 before anything was sent" },
        { "streamed", "/abort", "error", "aborted before anything was sent" },
        { "streamed", "/a%00b", "response", "a request refused without running the app" },
        { "streamed", "malformed", "error", "an event that is not a request" },
        { "buffered", "/ok", "response", "a buffered answer" },
        { "buffered", "/throw", "response", "a buffered 500" },
        { "buffered", "/abort", "error", "a buffered abort" },
        { "buffered", "/big", "error", "a buffered body over the front end's limit" },
        { "buffered", "/a%00b", "response", "a buffered refusal" },
        { "buffered", "malformed", "error", "a malformed event, buffered" },
    };

    [Theory]
    [MemberData(nameof(AnswerKinds))]
    public async Task Every_answer_carries_the_invocation_id_of_its_delivery(string mode, string path, string action, string what)
    {
        App = await StartAsync(mode);
        var invocation = Api.Enqueue(Event(path), headers: new Dictionary<string, string> { ["Lambda-Runtime-Invocation-Id"] = Id });
        var answer = await invocation.Answer.Within();
        await answer.Completed.Within();

        Assert.True(action == answer.Action, $"{what}: answered /{answer.Action}");
        Assert.Equal(mode == "streamed" && action == "response", answer.IsStreaming);
        Assert.Equal(Id, answer.Request.Headers.GetValueOrDefault("Lambda-Runtime-Invocation-Id"));
        if (path == "/fail-mid-stream")
        {
            Assert.Equal("InvalidOperationException", answer.Trailers["Lambda-Runtime-Function-Error-Type"]);
        }

        // The next delivery has its own id (or none), and nothing carries the previous one.
        var next = Api.Enqueue(Event("/ok"), headers: new Dictionary<string, string> { ["Lambda-Runtime-Invocation-Id"] = "second-delivery" });
        Assert.Equal("second-delivery", (await next.Answer.Within()).Request.Headers.GetValueOrDefault("Lambda-Runtime-Invocation-Id"));
        var without = Api.Enqueue(Event("/ok"));
        Assert.False((await without.Answer.Within()).Request.Headers.ContainsKey("Lambda-Runtime-Invocation-Id"));
    }

    [Theory]
    [MemberData(nameof(AnswerKinds))]
    public async Task Without_an_invocation_id_from_next_no_answer_carries_one(string mode, string path, string action, string what)
    {
        App = await StartAsync(mode);
        var invocation = Api.Enqueue(Event(path));
        var answer = await invocation.Answer.Within();
        await answer.Completed.Within();

        Assert.True(action == answer.Action, $"{what}: answered /{answer.Action}");
        Assert.DoesNotContain(answer.Request.Headers.Keys, name => name.Equals("Lambda-Runtime-Invocation-Id", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Warning && e.Message.Contains("Invocation-Id", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_invocation_id_that_is_not_a_printable_token_is_ignored_with_one_warning()
    {
        App = await StartAsync("streamed");
        var spaced = Api.Enqueue(Event("/ok"), headers: new Dictionary<string, string> { ["Lambda-Runtime-Invocation-Id"] = "two words" });
        var tooLong = Api.Enqueue(Event("/ok"), headers: new Dictionary<string, string> { ["Lambda-Runtime-Invocation-Id"] = new string('a', 1025) });
        var fine = Api.Enqueue(Event("/ok"), headers: new Dictionary<string, string> { ["Lambda-Runtime-Invocation-Id"] = new string('b', 1024) });

        Assert.False((await spaced.Answer.Within()).Request.Headers.ContainsKey("Lambda-Runtime-Invocation-Id"));
        Assert.False((await tooLong.Answer.Within()).Request.Headers.ContainsKey("Lambda-Runtime-Invocation-Id"));
        Assert.Equal(new string('b', 1024), (await fine.Answer.Within()).Request.Headers["Lambda-Runtime-Invocation-Id"]);

        var warning = Assert.Single(_logs.Entries, e => e.Message.Contains("Lambda-Runtime-Invocation-Id", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(spaced.RequestId, warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("streamed", "/ok")]
    [InlineData("buffered", "/ok")]
    [InlineData("buffered", "/abort")] // /error
    [InlineData("streamed", "malformed")] // /error
    public async Task A_410_for_a_late_answer_is_a_warning_and_a_count_and_the_loop_goes_on(string mode, string path)
    {
        App = await StartAsync(mode);
        using var refusals = new LateAnswerCount(App.Services.GetRequiredService<IMeterFactory>());
        var late = Api.Enqueue(Event(path), headers: new Dictionary<string, string> { ["Lambda-Runtime-Invocation-Id"] = Id });
        late.ReplyStatus = 410;
        var next = Api.Enqueue(Event("/ok"));

        await (await late.Answer.Within()).Completed.Within();
        await (await next.Answer.Within()).Completed.Within();

        Assert.Equal(1, refusals.Total);
        var warning = Assert.Single(_logs.Entries, e => e.Message.Contains("refused a late answer", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(late.RequestId, warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Error && e.Category == "LambdaStreamingHosting.Server" && !e.Message.Contains("unhandled", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_410_sent_before_the_streamed_answer_was_read_counts_as_a_refused_late_answer()
    {
        App = await StartAsync("streamed");
        using var refusals = new LateAnswerCount(App.Services.GetRequiredService<IMeterFactory>());
        var late = Api.Enqueue(Event("/large"), headers: new Dictionary<string, string> { ["Lambda-Runtime-Invocation-Id"] = Id });
        late.BreakConnection(earlyReplyStatus: 410);
        var next = Api.Enqueue(Event("/ok"));

        Assert.Equal(Id, (await late.Answer.Within()).Request.Headers["Lambda-Runtime-Invocation-Id"]);
        await (await next.Answer.Within()).Completed.Within();

        Assert.Equal(1, refusals.Total);
        Assert.Contains(_logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("refused a late answer", StringComparison.Ordinal) && e.Message.Contains(late.RequestId, StringComparison.Ordinal));
    }

    private static string Event(string path) => path == "malformed" ? """{"version":"2.0","rawPath":17}""" : TestEvents.FunctionUrl(path: path);

    private Task<WebApplication> StartAsync(string mode) =>
        TestApp.StartAsync(Api, Map, options =>
        {
            options.InvokeMode = mode == "buffered" ? LambdaInvokeMode.Buffered : LambdaInvokeMode.ResponseStream;
        }, logs: _logs);

    private static void Map(WebApplication app)
    {
        app.MapGet("/ok", () => "ok");
        app.MapGet("/throw", IResult () => throw new InvalidOperationException("before the start"));
        app.MapGet("/abort", (HttpContext context) => context.Abort());
        app.MapGet("/fail-mid-stream", async context =>
        {
            await context.Response.WriteAsync("partial;");
            await context.Response.Body.FlushAsync();
            throw new InvalidOperationException("after the start");
        });
        app.MapGet("/big", async context =>
        {
            var block = new byte[1024 * 1024];
            for (var i = 0; i < 8; i++)
            {
                await context.Response.Body.WriteAsync(block);
            }
        });
        app.MapGet("/large", async context =>
        {
            // Enough that the sends outlast the broken connection.
            var block = new byte[256 * 1024];
            for (var i = 0; i < 64 && !context.RequestAborted.IsCancellationRequested; i++)
            {
                await context.Response.Body.WriteAsync(block);
                await context.Response.Body.FlushAsync();
            }
        });
    }

    /// <summary>The <c>lambda_streaming.late_answers.refused</c> count of the app's meter.</summary>
    private sealed class LateAnswerCount : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<long> _counts = new();

        public LateAnswerCount(IMeterFactory factory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "LambdaStreamingHosting" && ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Name == "lambda_streaming.late_answers.refused")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => _counts.Enqueue(value));
            _listener.Start();
        }

        public long Total => _counts.Sum();

        public void Dispose() => _listener.Dispose();
    }
}
