// These tests log the way most apps do (LoggerExtensions with message templates), which the Lambda logger must handle.
#pragma warning disable CA1848, CA1873

using System.Text.Json;
using LambdaStreamingHosting.Logging;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Tests.Logging;

/// <summary>The Lambda logger behind a real <see cref="LoggerFactory"/>: invocation ids, real message templates, failures that must not reach the app.</summary>
public sealed partial class LambdaLoggerTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    private readonly CapturedOutput _output = new();
    private readonly LambdaLoggerProvider _provider;
    private readonly ILoggerFactory _factory;
    private readonly ILogger _logger;

    public LambdaLoggerTests()
    {
        _provider = new LambdaLoggerProvider(new LambdaLoggingSettings { Format = LambdaLogFormat.Json }, _output, TimeProvider.System);
        _factory = LoggerFactory.Create(logging => logging.AddProvider(_provider).SetMinimumLevel(LogLevel.Trace));
        _logger = _factory.CreateLogger("MyApp");
    }

    public void Dispose()
    {
        _factory.Dispose();
        _provider.Dispose();
        _output.Dispose();
    }

    [Fact]
    public void Entries_logged_during_an_invocation_carry_its_ids_and_the_template_s_properties()
    {
        using var invocation = LogEntryFormatterTests.Invocation("req-1", "Root=1-abc;Sampled=1", null);
        _logger.LogInformation("before");
        using (InvocationLogContext.Begin(invocation))
        {
            _logger.LogInformation("Greeting {Name}, visit {Visit}", "Ada", 3);
            Greeting(_logger, "Grace", 4);
        }

        _logger.LogInformation("after");

        var lines = Flushed();
        Assert.Equal(4, lines.Count);
        Assert.False(lines[0].TryGetProperty("requestId", out _));
        Assert.Equal("req-1", lines[1].GetProperty("requestId").GetString());
        Assert.Equal("Root=1-abc;Sampled=1", lines[1].GetProperty("traceId").GetString());
        Assert.Equal("Greeting Ada, visit 3", lines[1].GetProperty("message").GetString());
        Assert.Equal("Ada", lines[1].GetProperty("Name").GetString());
        Assert.Equal(3, lines[1].GetProperty("Visit").GetInt32());
        Assert.Equal("Grace", lines[2].GetProperty("Name").GetString());
        Assert.Equal(4, lines[2].GetProperty("Visit").GetInt32());
        Assert.Equal("MyApp", lines[2].GetProperty("logger").GetString());
        Assert.False(lines[3].TryGetProperty("requestId", out _));
    }

    [Fact]
    public async Task Concurrent_invocations_each_get_their_own_request_id()
    {
        // As under Lambda Managed Instances: several invocation loops, each in its own async flow.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loops = Enumerable.Range(1, 4).Select(loop => Task.Run(async () =>
        {
            using var invocation = LogEntryFormatterTests.Invocation($"req-{loop}", null, null);
            using var scope = InvocationLogContext.Begin(invocation);
            await start.Task;
            for (var i = 0; i < 50; i++)
            {
                _logger.LogInformation("Loop {Loop}", loop);
                await Task.Yield();
            }
        })).ToList();
        start.SetResult();
        await Task.WhenAll(loops).WaitAsync(Generous);

        var lines = Flushed();
        Assert.Equal(200, lines.Count);
        Assert.All(lines, line => Assert.Equal($"req-{line.GetProperty("Loop").GetInt32()}", line.GetProperty("requestId").GetString()));
    }

    [Fact]
    public async Task Work_an_invocation_started_keeps_its_request_id_after_the_invocation_ended()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task background;
        using (var invocation = LogEntryFormatterTests.Invocation("req-bg", "Root=1-bg", null))
        {
            using (InvocationLogContext.Begin(invocation))
            {
                background = Task.Run(async () =>
                {
                    await release.Task;
                    _logger.LogInformation("later");
                });
            }

            invocation.Reset(); // the loop reuses its invocation for the next event
        }

        release.SetResult();
        await background.WaitAsync(Generous);

        var line = Assert.Single(Flushed());
        Assert.Equal("req-bg", line.GetProperty("requestId").GetString());
        Assert.False(line.TryGetProperty("traceId", out _));
    }

    [Fact]
    public void A_message_that_is_not_valid_UTF_16_still_becomes_one_JSON_line()
    {
        _logger.LogWarning("half a pair: {Value}", "\udc00");

        var line = Assert.Single(Flushed());
        Assert.Equal("half a pair: \ufffd", line.GetProperty("message").GetString());
    }

    [Fact]
    public void A_property_whose_ToString_throws_does_not_reach_the_app_and_the_entry_is_still_written()
    {
        _logger.LogInformation("Value {Value}", new Unprintable());

        var line = Assert.Single(Flushed());
        Assert.Equal("MyApp", line.GetProperty("logger").GetString());
        Assert.False(line.TryGetProperty("Value", out _));
    }

    [Fact]
    public void Flush_returns_once_the_lines_were_written_and_many_lines_leave_in_few_writes()
    {
        _output.Block();
        for (var i = 0; i < 1000; i++)
        {
            _logger.LogInformation("Line {Number}", i);
        }

        Assert.False(_provider.Flush(TimeSpan.FromMilliseconds(50)));
        _output.Open();
        Assert.True(_provider.Flush(Generous));

        var lines = _output.Lines;
        Assert.Equal(Enumerable.Range(0, 1000), lines.Select(line => JsonDocument.Parse(line).RootElement.GetProperty("Number").GetInt32()));
        Assert.InRange(_output.Writes, 1, 100);
    }

    [LoggerMessage(1, LogLevel.Information, "Greeting {Name}, visit {Visit}")]
    private static partial void Greeting(ILogger logger, string name, int visit);

    private List<JsonElement> Flushed()
    {
        Assert.True(_provider.Flush(Generous));
        return [.. _output.Lines.Select(line => JsonDocument.Parse(line).RootElement)];
    }

    private sealed class Unprintable
    {
        public override string ToString() => throw new InvalidOperationException("cannot print");
    }
}
