using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace LambdaStreamingHosting.Tool.Tests;

/// <summary>
/// AWS's own Node.js runtime interface client, the npm package <c>aws-lambda-ric</c> (its native addon compiled by
/// npm install, as in a container image), run by the tool with <c>--handler</c> and nothing else: no <c>-e</c> lines.
/// The client reads <c>_HANDLER</c> and <c>LAMBDA_TASK_ROOT</c> as it does in Lambda, loads the handler from the
/// working directory, and streams its answer (<c>awslambda.streamifyResponse</c>) through the Function URL.
/// </summary>
public sealed partial class NodeRuntimeClientTests
{
    // Pinned: the version this test was written against (4.x reads _HANDLER and LAMBDA_TASK_ROOT; it declares
    // Node.js 22 and runs on 20).
    private const string RuntimeClientPackage = "aws-lambda-ric@4.0.2";

    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(90);

    // Writes "first", then waits until the test opens the gate (a named pipe) before "second": the first line can only
    // reach the client before the gate opens if the answer streams.
    private const string Handler = """
        import { readFile } from "node:fs/promises";

        export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
          const stream = awslambda.HttpResponseStream.from(responseStream, {
            statusCode: 201,
            headers: { "content-type": "text/plain", "x-handler": process.env._HANDLER, "x-task-root": process.env.LAMBDA_TASK_ROOT },
          });
          stream.write("first\n");
          await readFile(event.queryStringParameters.gate);
          stream.write("second\n");
          stream.end();
        });
        """;

    [NodeFact]
    public async Task The_tool_runs_the_AWS_Node_runtime_client_with_a_handler_and_streams_its_answer()
    {
        using var function = new TemporaryDirectory();
        await File.WriteAllTextAsync(Path.Combine(function.Path, "package.json"), """{ "name": "function", "private": true }""");
        await NpmInstallAsync(function.Path);
        await File.WriteAllTextAsync(Path.Combine(function.Path, "index.mjs"), Handler);
        using var gate = new NamedPipe();

        using var tool = ToolProcess.StartIn(function.Path, "run", "--port", "0", "--handler", "index.handler", "--", "node", "node_modules/aws-lambda-ric/index.mjs");
        var url = new Uri((await tool.Output.WaitForAsync(FunctionUrlLine(), timeout: Generous)).Groups[1].Value);
        using var client = new HttpClient { BaseAddress = url, Timeout = Generous };

        using var response = await client.GetAsync($"answer?gate={Uri.EscapeDataString(gate.Path)}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        // What Lambda would have given the client: the handler it configured, and the function's code folder.
        Assert.Equal("index.handler", Assert.Single(response.Headers.GetValues("x-handler")));
        Assert.Equal(function.Path, Assert.Single(response.Headers.GetValues("x-task-root")));
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("first", await reader.ReadLineAsync().WaitAsync(Generous));
        await gate.OpenAsync();
        Assert.Equal("second", await reader.ReadLineAsync().WaitAsync(Generous));
        Assert.Null(await reader.ReadLineAsync());

        var invocation = await tool.Output.WaitForAsync(InvocationLine(), timeout: Generous);
        Assert.Equal("201", invocation.Groups["status"].Value);
        Assert.Equal("13", invocation.Groups["bytes"].Value); // "first\nsecond\n"

        await tool.SignalAsync("INT");
        Assert.Equal(0, await tool.WaitForExitAsync(Generous));
    }

    private static async Task NpmInstallAsync(string directory)
    {
        var startInfo = new ProcessStartInfo("npm")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "install", RuntimeClientPackage, "--no-audit", "--no-fund", "--foreground-scripts" })
        {
            startInfo.ArgumentList.Add(argument);
        }

        var output = new StringBuilder();
        using var npm = new Process { StartInfo = startInfo };
        npm.OutputDataReceived += (_, e) => Append(output, e.Data);
        npm.ErrorDataReceived += (_, e) => Append(output, e.Data);
        npm.Start();
        npm.BeginOutputReadLine();
        npm.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            await npm.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            npm.Kill(entireProcessTree: true);
            throw;
        }

        npm.WaitForExit(); // flushes the output readers
        string Tail()
        {
            lock (output)
            {
                var text = output.ToString();
                return text.Length > 8000 ? "…" + text[^8000..] : text;
            }
        }

        Assert.True(npm.ExitCode == 0, $"npm install {RuntimeClientPackage} failed (exit code {npm.ExitCode}); it compiles a native addon with cmake, make, g++ and python3:\n{Tail()}");
        Assert.True(File.Exists(Path.Combine(directory, "node_modules", "aws-lambda-ric", "rapid-client.node")), $"npm install did not build the client's native addon:\n{Tail()}");
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    [GeneratedRegex(@"^lambda-streaming: Function URL (http://127\.0\.0\.1:\d+/) ")]
    private static partial Regex FunctionUrlLine();

    [GeneratedRegex(@"^invoke \S+  GET /answer\?\S+  (?<status>\d{3})  (?<bytes>\d+) B  ")]
    private static partial Regex InvocationLine();
}

/// <summary>A test that needs Node.js and npm on the PATH; skipped, and says so, where they are not.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class NodeFactAttribute : FactAttribute
{
    public NodeFactAttribute()
    {
        if (!OnPath("node") || !OnPath("npm"))
        {
            Skip = "Node.js and npm are not on the PATH: this test runs AWS's Node.js runtime interface client (npm package aws-lambda-ric).";
        }
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Combine(directory, program)));
}
