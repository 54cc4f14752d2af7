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
        using var process = Start(api.Endpoint, failStart: true);

        var report = await api.InitError.Task.WaitAsync(Generous);
        await process.WaitForExitAsync().WaitAsync(Generous);

        Assert.Equal("InvalidOperationException", report.Headers["Lambda-Runtime-Function-Error-Type"]);
        Assert.Contains("the database is unreachable", report.BodyText, StringComparison.Ordinal);
        Assert.NotEqual(0, process.ExitCode);
        Assert.Equal(0, api.NextRequests);
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

    private static Process Start(string runtimeApi, bool failStart = false)
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
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
