using System.Diagnostics;
using System.Text;
using LambdaStreamingHosting.Tests.Support;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// The real activation path: an ordinary app (ProcessApp/, one AddLambdaStreaming() line) started as its own process
/// with AWS_LAMBDA_RUNTIME_API set, as Lambda starts it.
/// </summary>
public sealed class ProcessTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task With_AWS_LAMBDA_RUNTIME_API_set_the_app_serves_invocations()
    {
        await using var api = new FakeRuntimeApi("/fn");
        using var process = Start(api.Endpoint);
        try
        {
            var answer = await api.Enqueue(TestEvents.FunctionUrl()).Answer.WaitAsync(Generous);
            await answer.ReadPreludeAsync().WaitAsync(Generous);
            Assert.Equal($"served by process {process.Id}", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().WaitAsync(Generous)));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WaitAsync(Generous);
        }
    }

    [Fact]
    public async Task A_host_that_fails_to_start_reports_init_error_and_exits_non_zero()
    {
        await using var api = new FakeRuntimeApi();
        var stdout = new List<string>();
        using var process = Start(api.Endpoint, failStart: true, stdout);

        var report = await api.InitError.Task.WaitAsync(Generous);
        await process.WaitForExitAsync().WaitAsync(Generous);

        Assert.Equal("InvalidOperationException", report.Headers["Lambda-Runtime-Function-Error-Type"]);
        Assert.Contains("the database is unreachable", report.BodyText, StringComparison.Ordinal);
        Assert.NotEqual(0, process.ExitCode);
        Assert.Equal(0, api.NextRequests);

        // The host's log of the failure, exception included, is one line on stdout, written before the process died.
        lock (stdout)
        {
            var failure = Assert.Single(stdout, line => line.Contains("the database is unreachable", StringComparison.Ordinal));
            Assert.Matches(@"\t(ERROR|FATAL)\t", failure);
            Assert.Contains("\\n   at ", failure, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task With_UseLambdaLogger_false_the_app_logs_through_ASP_NET_Core_s_console_logger()
    {
        await using var api = new FakeRuntimeApi();
        var stdout = new List<string>();
        using var process = Start(api.Endpoint, failStart: false, stdout, ("LambdaStreaming__UseLambdaLogger", "false"));
        try
        {
            await api.WaitForNextRequestsAsync(1).WaitAsync(Generous);
            var answer = await api.Enqueue(TestEvents.FunctionUrl()).Answer.WaitAsync(Generous);
            await answer.ReadBodyToEndAsync().WaitAsync(Generous);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WaitAsync(Generous);
        }

        // The console logger's format: the level and category on one line, the message on the next.
        lock (stdout)
        {
            var header = stdout.FindIndex(line => line.StartsWith("info: LambdaStreamingHosting.Server[1]", StringComparison.Ordinal));
            Assert.True(header >= 0, string.Join('\n', stdout));
            Assert.StartsWith("      Taking requests from the Lambda Runtime API", stdout[header + 1], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_500_from_the_Runtime_API_makes_the_process_exit_with_code_1()
    {
        await using var api = new FakeRuntimeApi { NextStatus = 500 };
        using var process = Start(api.Endpoint);

        await process.WaitForExitAsync().WaitAsync(Generous);

        Assert.Equal(1, process.ExitCode);
        Assert.Equal(1, api.NextRequests);
    }

    [Fact]
    public async Task With_several_loops_a_free_loop_still_answers_while_the_others_block_their_threads()
    {
        // Eight loops on what the runtime takes for one processor (the thread pool's default minimum is then 1): seven
        // requests block their thread-pool threads synchronously, and the eighth loop must still take and answer an event.
        const int Loops = 8;
        await using var api = new FakeRuntimeApi();
        using var process = Start(api.Endpoint, false, null, ("AWS_LAMBDA_MAX_CONCURRENCY", $"{Loops}"), ("DOTNET_PROCESSOR_COUNT", "1"));
        try
        {
            await api.WaitForNextRequestsAsync(Loops).WaitAsync(Generous);
            var blocked = Enumerable.Range(0, Loops - 1).Select(_ => api.Enqueue(TestEvents.FunctionUrl(path: "/block/until-released"))).ToList();
            var answers = new List<FakeAnswer>();
            foreach (var invocation in blocked)
            {
                var answer = await invocation.Answer.WaitAsync(Generous);
                await answer.ReadPreludeAsync().WaitAsync(Generous);
                await answer.ReadBodyUntilAsync("blocked").WaitAsync(Generous);
                answers.Add(answer);
            }

            // Seven loops hold a blocked thread each: the eighth answers, and the pool keeps a thread for every loop.
            var threads = await api.Enqueue(TestEvents.FunctionUrl(path: "/threads")).Answer.WaitAsync(Generous);
            await threads.ReadPreludeAsync().WaitAsync(Generous);
            var minimum = int.Parse(Encoding.UTF8.GetString(await threads.ReadBodyToEndAsync().WaitAsync(Generous)).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(minimum >= Loops + 1, $"the thread pool's minimum is {minimum}, fewer than {Loops} loops + 1 processor");
            foreach (var answer in answers)
            {
                Assert.False(answer.Completed.IsCompleted);
            }

            await api.Enqueue(TestEvents.FunctionUrl(path: "/block/release")).Answer.WaitAsync(Generous);
            foreach (var answer in answers)
            {
                Assert.EndsWith("released\n", Encoding.UTF8.GetString(await answer.ReadBodyToEndAsync().WaitAsync(Generous)), StringComparison.Ordinal);
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WaitAsync(Generous);
        }
    }

    private static Process Start(string runtimeApi, bool failStart = false, List<string>? stdout = null, params (string Name, string Value)[] environment)
    {
        var app = Path.Combine(AppContext.BaseDirectory, "ProcessApp.dll");
        Assert.True(File.Exists(app), $"{app} is missing: the test project builds it through its ProjectReference.");
        var start = new ProcessStartInfo("dotnet", [app])
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["AWS_LAMBDA_RUNTIME_API"] = runtimeApi;
        start.Environment["PROCESS_APP_FAIL_START"] = failStart ? "1" : "0";
        start.Environment["DOTNET_gcServer"] = "0";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data is not null && stdout is not null)
            {
                lock (stdout)
                {
                    stdout.Add(line.Data);
                }
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
