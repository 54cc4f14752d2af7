using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using LambdaStreamingHosting.Testing;
using LambdaStreamingHosting.Tests.Support;
using Xunit.Abstractions;

namespace LambdaStreamingHosting.Tests.Logging;

/// <summary>
/// An ordinary app (ProcessApp/, one <c>AddLambdaStreaming()</c> line, no logging setup of its own) as a real process
/// under the emulator, with the environment Lambda gives it: what it writes to standard output (each line a CloudWatch
/// event), whether those lines are out before the emulator freezes it with <c>SIGSTOP</c>, and <c>SIGTERM</c>.
/// </summary>
public sealed partial class LambdaLoggerProcessTests(ITestOutputHelper testOutput)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    // The whole Shutdown phase of Lambda ends after 2 s: a process still running then is killed.
    private static readonly TimeSpan LambdaShutdownLimit = TimeSpan.FromSeconds(2);

    private static readonly string[] LambdaLevels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

    [Fact]
    public async Task With_the_JSON_log_format_every_line_is_one_Lambda_JSON_entry_and_an_invocation_s_entries_carry_its_ids()
    {
        await using var function = await Function.StartAsync(freeze: true, ("AWS_LAMBDA_LOG_FORMAT", "JSON"));

        var answer = (await function.Client.GetStringAsync("log/entries")).Split(' ');
        var (requestId, traceId) = (answer[0], answer[1]);
        var lines = await function.LinesWhenFrozenAsync(line => line.Contains("Careful with", StringComparison.Ordinal));

        Assert.All(lines, AssertLambdaJsonEntry);
        // ASP.NET Core's own entries for the request (hosting, routing) carry the ids as well.
        var ofTheInvocation = lines.Select(Parse).Where(entry => entry.TryGetProperty("requestId", out var id) && id.GetString() == requestId).ToList();
        Assert.Contains(ofTheInvocation, entry => entry.GetProperty("logger").GetString() == "Microsoft.AspNetCore.Hosting.Diagnostics");
        Assert.All(ofTheInvocation, entry => Assert.Equal(traceId, entry.GetProperty("traceId").GetString()));
        var mine = ofTheInvocation.Where(entry => entry.GetProperty("logger").GetString() == "ProcessApp").ToList();
        Assert.Equal(2, mine.Count);
        var greeting = mine[0];
        Assert.Equal("INFO", greeting.GetProperty("level").GetString());
        Assert.Equal("ProcessApp", greeting.GetProperty("logger").GetString());
        Assert.Equal("Greeting Ada, visit 3", greeting.GetProperty("message").GetString());
        Assert.Equal("Ada", greeting.GetProperty("Name").GetString());
        Assert.Equal(3, greeting.GetProperty("Visit").GetInt32());
        Assert.Equal("WARN", mine[1].GetProperty("level").GetString());
        Assert.Equal(99.5, mine[1].GetProperty("Temperature").GetDouble());

        // Lines logged outside an invocation (start-up) carry no request id.
        Assert.Contains(lines.Select(Parse), entry => entry.GetProperty("message").GetString()!.StartsWith("Taking requests from the Lambda Runtime API", StringComparison.Ordinal)
            && !entry.TryGetProperty("requestId", out _));
        Assert.Equal(requestId, function.Emulator.Invocations.Single().RequestId);
    }

    [Fact]
    public async Task An_exception_and_a_multi_line_message_are_one_JSON_line_each()
    {
        await using var function = await Function.StartAsync(freeze: true, ("AWS_LAMBDA_LOG_FORMAT", "JSON"));

        var failed = await function.Client.GetStringAsync("log/exception");
        var multiline = await function.Client.GetStringAsync("log/multiline");
        var lines = await function.LinesWhenFrozenAsync(line => line.Contains("third line", StringComparison.Ordinal));

        Assert.All(lines, AssertLambdaJsonEntry);
        var error = Parse(Assert.Single(lines, line => line.Contains("warehouse", StringComparison.Ordinal)));
        Assert.Equal(failed, error.GetProperty("requestId").GetString());
        Assert.Equal("ERROR", error.GetProperty("level").GetString());
        Assert.Equal("The order 42 failed", error.GetProperty("message").GetString());
        Assert.Equal(42, error.GetProperty("OrderId").GetInt32());
        Assert.Equal("System.InvalidOperationException", error.GetProperty("errorType").GetString());
        Assert.Equal("the warehouse is closed", error.GetProperty("errorMessage").GetString());
        var stack = error.GetProperty("stackTrace").EnumerateArray().Select(frame => frame.GetString()!).ToList();
        Assert.Equal("System.InvalidOperationException: the warehouse is closed", stack[0]);
        Assert.Contains(stack, frame => frame.StartsWith("at ", StringComparison.Ordinal) && frame.Contains("Fail", StringComparison.Ordinal));

        var warning = Parse(Assert.Single(lines, line => line.Contains("second line", StringComparison.Ordinal)));
        Assert.Equal(multiline, warning.GetProperty("requestId").GetString());
        Assert.Equal("first line\nsecond line\r\nthird line", warning.GetProperty("message").GetString());
    }

    [Fact]
    public async Task AWS_LAMBDA_LOG_LEVEL_WARN_hides_information_entries_although_the_app_s_default_level_is_Information()
    {
        await using var function = await Function.StartAsync(
            freeze: true,
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            // What a template's appsettings.json says, as configuration.
            ("Logging__LogLevel__Default", "Information"),
            ("Logging__LogLevel__Microsoft.AspNetCore", "Warning"));

        var requestId = (await function.Client.GetStringAsync("log/entries")).Split(' ')[0];
        var lines = await function.LinesWhenFrozenAsync(line => line.Contains("Careful with", StringComparison.Ordinal));

        Assert.All(lines, AssertLambdaJsonEntry);
        Assert.DoesNotContain(lines, line => line.Contains("Greeting", StringComparison.Ordinal));
        Assert.All(lines.Select(Parse), entry => Assert.Contains(entry.GetProperty("level").GetString(), (string[])["WARN", "ERROR", "FATAL"]));
        Assert.Equal(requestId, Parse(Assert.Single(lines)).GetProperty("requestId").GetString());
    }

    [Fact]
    public async Task In_the_text_format_each_entry_is_one_line_of_timestamp_request_id_level_and_message()
    {
        await using var function = await Function.StartAsync(freeze: true, ("AWS_LAMBDA_LOG_FORMAT", "Text"));

        var failed = await function.Client.GetStringAsync("log/exception");
        var lines = await function.LinesWhenFrozenAsync(line => line.Contains("warehouse", StringComparison.Ordinal));

        Assert.All(lines, line => Assert.Matches(TextLine(), line));
        var error = Assert.Single(lines, line => line.Contains("warehouse", StringComparison.Ordinal));
        Assert.StartsWith("ERROR\tProcessApp: The order 42 failed\\nSystem.InvalidOperationException: the warehouse is closed\\n   at ", error.Split('\t', 3)[2], StringComparison.Ordinal);
        Assert.Equal(failed, error.Split('\t')[1]);
    }

    [Fact]
    public async Task The_lines_of_an_invocation_are_all_out_before_the_process_is_frozen_and_never_interleave_with_the_next_one()
    {
        // 2,000 lines of ~400 bytes, logged after the response ended: far more than a pipe holds, so the writer thread is
        // still busy when the loop is about to ask for the next event. (Without the flush before /next this fails.)
        const int Count = 2000;
        await using var function = await Function.StartAsync(freeze: true, ("AWS_LAMBDA_LOG_FORMAT", "JSON"));

        var first = await function.Client.GetStringAsync($"log/many?count={Count}");
        var firstLines = await function.LinesWhenFrozenAsync(line => line.Contains($"Done with {first}", StringComparison.Ordinal));
        var second = await function.Client.GetStringAsync($"log/many?count={Count}");
        var allLines = await function.LinesWhenFrozenAsync(line => line.Contains($"Done with {second}", StringComparison.Ordinal));

        Assert.Equal(Count + 1, firstLines.Select(Parse).Count(entry => entry.TryGetProperty("requestId", out var id) && id.GetString() == first
            && entry.GetProperty("logger").GetString() == "ProcessApp"));
        var byInvocation = allLines.Select(Parse).Where(entry => entry.TryGetProperty("requestId", out _)).Select(entry => entry.GetProperty("requestId").GetString()).ToList();
        Assert.Equal(byInvocation.Count(id => id == first), byInvocation.TakeWhile(id => id == first).Count());
        Assert.All(byInvocation.SkipWhile(id => id == first), id => Assert.Equal(second, id));
        var numbers = allLines.Select(Parse).Where(entry => entry.TryGetProperty("Number", out _)).Select(entry => entry.GetProperty("Number").GetInt32());
        Assert.Equal([.. Enumerable.Range(1, Count), .. Enumerable.Range(1, Count)], numbers);
    }

    /// <summary>
    /// A stream in flight at SIGTERM ends before the process exits 0 with its logs written: one that stops on
    /// <c>RequestAborted</c> ends with the shutdown error trailers; one that ignores it is cut when the process exits (no
    /// trailers can follow while the app still holds the response), after the abort grace.
    /// </summary>
    [Theory]
    [InlineData("stream/until-aborted", "LambdaStreaming.Shutdown", "1 invocation(s) in flight are aborted")]
    [InlineData("stream/ignoring-abort", "Runtime.ExitError", "did not end within 500 ms")]
    public async Task SIGTERM_during_a_stream_ends_the_stream_flushes_the_logs_and_exits_0(string path, string errorType, string serverLog)
    {
        await using var function = await Function.StartAsync(freeze: false, ("AWS_LAMBDA_LOG_FORMAT", "JSON"));
        using var response = await function.Client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("first", await body.ReadLineAsync());

        var (exitCode, elapsed) = await function.ShutdownAsync();

        Assert.Equal(0, exitCode);
        await Assert.ThrowsAnyAsync<IOException>(() => body.ReadToEndAsync().WaitAsync(Generous));
        var record = Assert.Single(function.Emulator.Invocations);
        Assert.Equal(errorType, record.ErrorType);
        var lines = function.Output.StandardOutput;
        Assert.All(lines, AssertLambdaJsonEntry);
        var entries = lines.Select(Parse).ToList();
        Assert.Contains(entries, entry => entry.GetProperty("message").GetString()!.Contains(serverLog, StringComparison.Ordinal));
        if (path == "stream/until-aborted")
        {
            Assert.Contains(entries, entry => entry.GetProperty("message").GetString() == $"RequestAborted fired for {record.RequestId}"
                && entry.GetProperty("requestId").GetString() == record.RequestId);
        }

        Assert.Equal("The host stopped", entries[^1].GetProperty("message").GetString());
        testOutput.WriteLine($"SIGTERM to exit: {elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task SIGTERM_while_frozen_between_invocations_exits_0_with_every_line_written()
    {
        await using var function = await Function.StartAsync(freeze: true, ("AWS_LAMBDA_LOG_FORMAT", "JSON"));
        await function.Client.GetStringAsync("log/entries");
        await function.LinesWhenFrozenAsync(line => line.Contains("Careful with", StringComparison.Ordinal));

        var (exitCode, elapsed) = await function.ShutdownAsync();

        Assert.Equal(0, exitCode);
        var entries = function.Output.StandardOutput.Select(Parse).ToList();
        Assert.Contains(entries, entry => entry.GetProperty("message").GetString() == "Application is shutting down...");
        Assert.Equal("The host stopped", entries[^1].GetProperty("message").GetString());
        testOutput.WriteLine($"SIGTERM to exit: {elapsed.TotalMilliseconds:F0} ms");
    }

    private static JsonElement Parse(string line) => JsonDocument.Parse(line).RootElement;

    private static void AssertLambdaJsonEntry(string line)
    {
        JsonElement entry;
        try
        {
            entry = Parse(line);
        }
        catch (JsonException exception)
        {
            throw new Xunit.Sdk.XunitException($"Not a JSON line: {line} ({exception.Message})");
        }

        Assert.Equal(JsonValueKind.Object, entry.ValueKind);
        Assert.Matches(Timestamp(), entry.GetProperty("timestamp").GetString());
        Assert.Contains(entry.GetProperty("level").GetString(), LambdaLevels);
        Assert.Equal(JsonValueKind.String, entry.GetProperty("message").ValueKind);
        Assert.Equal(JsonValueKind.String, entry.GetProperty("logger").ValueKind);
    }

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")]
    private static partial Regex Timestamp();

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t[^\t]*\t(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\t[^\r\n]+$")]
    private static partial Regex TextLine();

    /// <summary>ProcessApp as a function process under an emulator, with a client for its Function URL.</summary>
    private sealed class Function : IAsyncDisposable
    {
        // The emulator freezes the function once initialised, then after each invocation.
        private int _freezesAwaited = 1;

        private Function(FunctionProcess process, FreezeWatch watch, LambdaEmulator emulator, ProcessOutput output)
        {
            Process = process;
            Watch = watch;
            Emulator = emulator;
            Output = output;
            Client = new HttpClient { BaseAddress = emulator.FunctionUrl, Timeout = Generous };
        }

        public FunctionProcess Process { get; }

        public FreezeWatch Watch { get; }

        public LambdaEmulator Emulator { get; }

        public ProcessOutput Output { get; }

        public HttpClient Client { get; }

        public static async Task<Function> StartAsync(bool freeze, params (string Name, string Value)[] environment)
        {
            var output = new ProcessOutput();
            var options = new FunctionProcessOptions
            {
                FileName = "dotnet",
                Arguments = [Path.Combine(AppContext.BaseDirectory, "ProcessApp.dll")],
                WorkingDirectory = AppContext.BaseDirectory,
                Freeze = freeze,
                StandardOutput = output.AddStandardOutput,
                StandardError = output.AddStandardError,
                Environment = { ["DOTNET_gcServer"] = "0" },
            };
            foreach (var (name, value) in environment)
            {
                options.Environment[name] = value;
            }

            var process = new FunctionProcess(options);
            var watch = new FreezeWatch(process);
            var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = watch });
            process.Start(emulator.RuntimeApiEndpoint);
            await process.WaitUntilInitializedAsync(Generous);
            return new Function(process, watch, emulator, output);
        }

        /// <summary>
        /// Waits until the process is frozen after the invocation just answered, then for the line <paramref name="last"/>
        /// describes; the process stays frozen all the while, so every line read was written before the freeze.
        /// </summary>
        public async Task<IReadOnlyList<string>> LinesWhenFrozenAsync(Func<string, bool> last)
        {
            await Watch.WaitForFreezesAsync(++_freezesAwaited).WaitAsync(Generous);
            try
            {
                await Output.WaitForLineAsync(last).WaitAsync(Generous);
            }
            catch (TimeoutException)
            {
                throw new Xunit.Sdk.XunitException($"The line was not written before the freeze. {Output}");
            }

            Assert.True(Process.IsFrozen, "the process stayed frozen while its lines were read");
            return Output.StandardOutput;
        }

        /// <summary>Lambda's Shutdown phase: SIGTERM, then SIGKILL after 2 s; returns the exit code and the time to exit.</summary>
        public async Task<(int ExitCode, TimeSpan Elapsed)> ShutdownAsync()
        {
            var started = Stopwatch.GetTimestamp();
            var exitCode = await Process.ShutdownAsync(LambdaShutdownLimit);
            return (exitCode, Stopwatch.GetElapsedTime(started));
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await Process.DisposeAsync();
            await Emulator.DisposeAsync();
        }
    }
}
