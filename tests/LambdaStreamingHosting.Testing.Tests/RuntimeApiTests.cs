using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using static LambdaStreamingHosting.Testing.Tests.TestSupport;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>The Runtime API's endpoints, headers, replies and state rules, driven by the raw-socket client.</summary>
public class RuntimeApiTests
{
    [Fact]
    public async Task Next_gives_the_event_with_the_invocation_headers()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { FunctionName = "orders", Region = "eu-west-2", Timeout = TimeSpan.FromSeconds(20) });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/x");

        var before = DateTimeOffset.UtcNow;
        var invocation = await runtime.NextAsync().WaitAsync(Patience);
        Assert.True(Guid.TryParse(invocation.RequestId, out _));
        Assert.Equal("arn:aws:lambda:eu-west-2:123456789012:function:orders", invocation.Reply.Header("Lambda-Runtime-Invoked-Function-Arn"));
        Assert.StartsWith("Root=1-", invocation.Reply.Header("Lambda-Runtime-Trace-Id"));
        var deadline = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(invocation.Reply.Header("Lambda-Runtime-Deadline-Ms"), CultureInfo.InvariantCulture));
        Assert.InRange(deadline, before.AddSeconds(19), DateTimeOffset.UtcNow.AddSeconds(21));
        Assert.Equal("2.0", invocation.Json.GetProperty("version").GetString());
        var requestTrace = invocation.Json.GetProperty("headers").GetProperty("x-amzn-trace-id").GetString()!;
        Assert.StartsWith(requestTrace + ";Parent=", invocation.Reply.Header("Lambda-Runtime-Trace-Id")); // one trace, end to end

        await using var answer = await runtime.BeginStreamAsync(invocation.RequestId);
        await answer.WriteChunkAsync(RawRuntimeClient.Prelude("{}"));
        await answer.EndAsync();
        using var response = await request;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Next_before_answering_is_403_InvalidStateTransition_and_a_violation()
    {
        var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/");
        var invocation = await runtime.NextAsync().WaitAsync(Patience);

        var second = await runtime.NextRawAsync().WaitAsync(Patience);
        Assert.Equal(403, second.Status);
        Assert.Contains("\"errorType\":\"InvalidStateTransition\"", second.Text);

        Assert.Equal(202, (await runtime.PostBufferedAsync(invocation.RequestId, "{}", "text/plain")).Status);
        (await request).Dispose();
        var violations = await DisposeExpectingViolationsAsync(emulator);
        Assert.Contains(violations, v => v.Contains($"before answering invocation {invocation.RequestId}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Answers_for_unknown_or_finished_ids_get_400_InvalidRequestID()
    {
        var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { InvokeMode = LambdaInvokeMode.Buffered });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        var unknown = await runtime.PostBufferedAsync("no-such-id", "{}");
        Assert.Equal(400, unknown.Status);
        Assert.Equal("""{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}""", unknown.Text);
        Assert.Equal(400, (await runtime.PostErrorAsync("no-such-id", "X", "y")).Status);

        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/");
        var invocation = await runtime.NextAsync().WaitAsync(Patience);
        Assert.Equal(202, (await runtime.PostBufferedAsync(invocation.RequestId, """{"statusCode":200}""")).Status);
        (await request).Dispose();
        var twice = await runtime.PostBufferedAsync(invocation.RequestId, """{"statusCode":200}""");
        Assert.Equal(400, twice.Status);
        Assert.Contains("already answered", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Fact]
    public async Task An_unknown_response_mode_is_400_InvalidFunctionResponseMode()
    {
        var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/");
        var invocation = await runtime.NextAsync().WaitAsync(Patience);
        await using (var answer = await runtime.BeginStreamAsync(invocation.RequestId, responseMode: "Streaming"))
        {
            var reply = await answer.ReadReplyAsync().WaitAsync(Patience);
            Assert.Equal(400, reply.Status);
            Assert.Contains("InvalidFunctionResponseMode", reply.Text);
        }

        await using (var answer = await runtime.BeginStreamAsync(invocation.RequestId))
        {
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("{}"));
            Assert.Equal(202, (await answer.EndAsync()).Status);
        }

        (await request).Dispose();
        Assert.Contains("must be exactly 'streaming'", Assert.Single(await DisposeExpectingViolationsAsync(emulator)));
    }

    [Fact]
    public async Task Buffered_answers_over_6_291_556_bytes_get_413_and_the_client_502()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { InvokeMode = LambdaInvokeMode.Buffered });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/");
        var invocation = await runtime.NextAsync().WaitAsync(Patience);

        var reply = await runtime.PostBufferedAsync(invocation.RequestId, new byte[LambdaEmulatorOptions.LambdaMaxBufferedResponseBytes + 1]);
        Assert.Equal(413, reply.Status);
        Assert.Contains("\"errorType\":\"RequestEntityTooLarge\"", reply.Text);
        using var response = await request;
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("Function.ResponseSizeTooLarge", Assert.Single(emulator.Invocations).ErrorType);
    }

    [Fact]
    public async Task A_buffered_answer_of_exactly_the_limit_is_accepted()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { InvokeMode = LambdaInvokeMode.Buffered, Strict = false });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/");
        var invocation = await runtime.NextAsync().WaitAsync(Patience);
        var padding = new string('a', LambdaEmulatorOptions.LambdaMaxBufferedResponseBytes - """{"statusCode":200,"body":""}""".Length);
        var reply = await runtime.PostBufferedAsync(invocation.RequestId, $$"""{"statusCode":200,"body":"{{padding}}"}""");
        Assert.Equal(202, reply.Status);
        using var response = await request;
        Assert.Equal(padding.Length, (await response.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task Events_over_6_291_456_bytes_get_413_at_the_client_and_never_reach_the_function()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { InvokeMode = LambdaInvokeMode.Buffered });
        using var http = Client(emulator.FunctionUrl);
        using var response = await SendAsync(http, HttpMethod.Post, "/upload", new string('x', LambdaEmulatorOptions.LambdaMaxEventBytes), "text/plain");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var record = Assert.Single(emulator.Invocations);
        Assert.Equal("RequestEntityTooLarge", record.ErrorType);
        Assert.Equal(0, record.EventBytes);

        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        var next = runtime.NextRawAsync();
        var small = SendAsync(http, HttpMethod.Post, "/upload", "ok", "text/plain");
        var invocation = await next.WaitAsync(Patience);
        Assert.Contains("\"body\":\"ok\"", invocation.Text); // the refused event was never queued
        await runtime.PostBufferedAsync(invocation.Headers["Lambda-Runtime-Aws-Request-Id"], """{"statusCode":200}""");
        (await small).Dispose();
    }

    [Fact]
    public async Task Error_report_gives_the_client_502_and_is_logged()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/");
        var invocation = await runtime.NextAsync().WaitAsync(Patience);
        var reply = await runtime.PostErrorAsync(invocation.RequestId, "Runtime.UnhandledException", "it broke");
        Assert.Equal(202, reply.Status);
        using var response = await request;
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("""{"message":"Internal Server Error"}""", await response.Content.ReadAsStringAsync());
        var record = Assert.Single(emulator.Invocations);
        Assert.Equal("Runtime.UnhandledException", record.ErrorType);
        Assert.Equal("it broke", record.ErrorMessage);
        Assert.Equal(502, record.StatusCode);
    }

    [Fact]
    public async Task Init_error_fails_the_waiting_request_and_resets_the_environment()
    {
        var environment = new RecordingEnvironment();
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = environment });
        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/");
        await emulator.WaitUntilQueuedAsync();
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        Assert.Equal(202, (await runtime.PostInitErrorAsync("Runtime.ConfigError", "missing setting")).Status);
        using var response = await request;
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("Runtime.ConfigError", await environment.Reset.Task.WaitAsync(Patience));
        Assert.Contains("missing setting", Assert.Single(emulator.Invocations).ErrorMessage);
    }

    [Fact]
    public async Task A_timed_out_invocation_gets_502_resets_the_environment_and_a_late_answer_gets_410()
    {
        var environment = new RecordingEnvironment();
        var clock = new FakeTimeProvider();
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Timeout = TimeSpan.FromSeconds(1), Environment = environment, TimeProvider = clock });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/slow");
        await emulator.WaitUntilQueuedAsync();
        var invocation = await runtime.NextAsync().WaitAsync(Patience);

        clock.Advance(TimeSpan.FromSeconds(1)); // and the function never answers
        using var response = await request.WaitAsync(Patience);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.StartsWith("Sandbox.Timedout", response.Headers.GetValues("x-lambda-emulator-error").Single());
        Assert.Equal("Sandbox.Timedout", await environment.Reset.Task.WaitAsync(Patience));
        var record = Assert.Single(emulator.Invocations);
        Assert.Equal("Sandbox.Timedout", record.ErrorType);
        Assert.Equal(TimeSpan.FromSeconds(1), record.Duration);

        var late = await runtime.PostBufferedAsync(invocation.RequestId, "{}");
        Assert.Equal(410, late.Status);
        Assert.Contains("InvokeTimeout", late.Text);
        Assert.Equal(["reset:Sandbox.Timedout"], environment.Calls);
    }

    [Fact]
    public async Task A_timeout_after_the_response_started_aborts_the_client()
    {
        var clock = new FakeTimeProvider();
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Timeout = TimeSpan.FromSeconds(2), TimeProvider = clock });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = Task.Run(async () =>
        {
            var invocation = await runtime.NextAsync();
            var answer = await runtime.BeginStreamAsync(invocation.RequestId);
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200}"""));
            await answer.WriteChunkAsync("tick");
            return answer; // and then nothing: the deadline passes mid-stream
        });

        using var response = await SendAsync(http, HttpMethod.Get, "/");
        var body = await response.Content.ReadAsStreamAsync();
        Assert.Equal("tick", await ReadExactlyAsync(body, 4));
        clock.Advance(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAnyAsync<IOException>(() => body.CopyToAsync(Stream.Null).WaitAsync(Patience));
        await using var answer = await function;
        var record = Assert.Single(await emulator.WaitForInvocationsAsync(1));
        Assert.Equal("Sandbox.Timedout", record.ErrorType);
        Assert.True(record.ClientAborted);
    }

    [Fact]
    public async Task The_environment_is_frozen_while_idle_and_thawed_for_the_next_event()
    {
        var environment = new RecordingEnvironment();
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = environment, InvokeMode = LambdaInvokeMode.Buffered });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        var next = runtime.NextAsync();
        await environment.Frozen.Task.WaitAsync(Patience);
        Assert.Equal(["freeze"], environment.Calls);

        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/");
        var invocation = await next.WaitAsync(Patience);
        Assert.Equal(["freeze", "thaw"], environment.Calls);
        await runtime.PostBufferedAsync(invocation.RequestId, """{"statusCode":200}""");
        (await request).Dispose();

        // An event already waiting is handed over without a freeze.
        var second = SendAsync(http, HttpMethod.Get, "/");
        await emulator.WaitUntilQueuedAsync();
        var invocation2 = await runtime.NextAsync().WaitAsync(Patience);
        await runtime.PostBufferedAsync(invocation2.RequestId, """{"statusCode":200}""");
        (await second).Dispose();
        Assert.Equal(["freeze", "thaw"], environment.Calls);
    }

    [Fact]
    public async Task Unknown_paths_are_404_and_wrong_methods_405()
    {
        await using var emulator = await LambdaEmulator.StartAsync();
        using var http = Client(new Uri($"http://{emulator.RuntimeApiEndpoint}/"));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/2018-06-01/runtime/nope")).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await http.PostAsync("/2018-06-01/runtime/invocation/next", null)).StatusCode);
    }

    [Fact]
    public async Task Invalid_options_are_refused_with_a_message_naming_the_option()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Timeout = TimeSpan.FromMinutes(16) }));
        Assert.Contains("LambdaEmulatorOptions.Timeout must be more than 0 and at most 15 minutes", error.Message);
        error = await Assert.ThrowsAsync<ArgumentException>(() => LambdaEmulator.StartAsync(new LambdaEmulatorOptions { RestApiStage = "a/b" }));
        Assert.Contains("LambdaEmulatorOptions.RestApiStage", error.Message);
    }

    [Fact]
    public async Task With_max_concurrency_the_function_handles_several_invocations_at_once_and_is_never_frozen()
    {
        var environment = new RecordingEnvironment();
        var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { MaxConcurrency = 2, Environment = environment, InvokeMode = LambdaInvokeMode.Buffered });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var first = SendAsync(http, HttpMethod.Get, "/1");
        var second = SendAsync(http, HttpMethod.Get, "/2");
        var a = await runtime.NextAsync().WaitAsync(Patience);
        var b = await runtime.NextAsync().WaitAsync(Patience); // both delivered before either is answered
        Assert.NotEqual(a.RequestId, b.RequestId);
        Assert.Equal(403, (await runtime.NextRawAsync().WaitAsync(Patience)).Status); // a third loop is one too many

        await runtime.PostBufferedAsync(b.RequestId, """{"statusCode":200,"body":"b"}""");
        await runtime.PostBufferedAsync(a.RequestId, """{"statusCode":200,"body":"a"}""");
        using var firstResponse = await first;
        using var secondResponse = await second;
        Assert.Equal(["a", "b"], new[] { await firstResponse.Content.ReadAsStringAsync(), await secondResponse.Content.ReadAsStringAsync() }.Order());
        Assert.Empty(environment.Calls);
        await DisposeExpectingViolationsAsync(emulator);
    }

    [Fact]
    public async Task A_logger_factory_receives_a_line_per_invocation_and_each_violation()
    {
        var sink = new ListLoggerProvider();
        using var loggers = Microsoft.Extensions.Logging.LoggerFactory.Create(logging => logging.AddProvider(sink));
        var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { LoggerFactory = loggers, InvokeMode = LambdaInvokeMode.Buffered });
        var (_, response) = await RoundTripAsync(emulator, emulator.FunctionUrl, new HttpRequestMessage(HttpMethod.Get, "/logged"), Buffered("""{"statusCode":200,"multiValueHeaders":{}}"""));
        await emulator.WaitForInvocationsAsync(1);
        Assert.Contains(sink.Lines, l => l.Contains("GET /logged -> 502", StringComparison.Ordinal));
        Assert.Contains(sink.Lines, l => l.StartsWith("Protocol violation:", StringComparison.Ordinal) && l.Contains("multiValueHeaders", StringComparison.Ordinal));
        await DisposeExpectingViolationsAsync(emulator);
    }

    private sealed class ListLoggerProvider : Microsoft.Extensions.Logging.ILoggerProvider, Microsoft.Extensions.Logging.ILogger
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

        public IReadOnlyList<string> Lines => [.. _lines];

        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _lines.Enqueue(formatter(state, exception));

        public void Dispose()
        {
        }
    }

    [Fact]
    public async Task A_failing_environment_answers_500_and_frees_the_slot()
    {
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = new FailsToFreezeOnce(), InvokeMode = LambdaInvokeMode.Buffered });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        var failed = await runtime.NextRawAsync().WaitAsync(Patience);
        Assert.Equal(500, failed.Status);
        Assert.Contains("cannot stop the process", failed.Text);

        using var http = Client(emulator.FunctionUrl);
        var request = SendAsync(http, HttpMethod.Get, "/");
        var invocation = await runtime.NextAsync().WaitAsync(Patience); // not 403: the failed poll left no slot taken
        await runtime.PostBufferedAsync(invocation.RequestId, """{"statusCode":200}""");
        using var response = await request;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Chosen_ports_are_used()
    {
        var port = FreePort();
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { FunctionUrlPort = port });
        Assert.Equal(new Uri($"http://127.0.0.1:{port}/"), emulator.FunctionUrl);
        Assert.Matches(@"^127\.0\.0\.1:\d+$", emulator.RuntimeApiEndpoint);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class FailsToFreezeOnce : IFunctionEnvironment
    {
        private int _calls;

        public ValueTask FreezeAsync(CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _calls) == 1 ? throw new InvalidOperationException("cannot stop the process") : ValueTask.CompletedTask;
    }
}
