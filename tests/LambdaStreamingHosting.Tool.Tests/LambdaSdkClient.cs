using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace LambdaStreamingHosting.Tool.Tests;

/// <summary>
/// AWS's SDK for JavaScript (<c>@aws-sdk/client-lambda</c> from npm), installed once per test run into a temporary
/// folder, driven by a small script: it calls <c>Invoke</c> or <c>InvokeWithResponseStream</c> on an endpoint with dummy
/// credentials and prints one JSON line per thing it receives (the response, each <c>PayloadChunk</c> as the SDK's
/// async iterator yields it, <c>InvokeComplete</c>, or the SDK's error), so a test reads them as they happen.
/// </summary>
internal static class LambdaSdkClient
{
    private const string Package = "@aws-sdk/client-lambda";

    private const string Script = """
        import { LambdaClient, InvokeCommand, InvokeWithResponseStreamCommand } from "@aws-sdk/client-lambda";

        const [operation, endpoint, inputJson] = process.argv.slice(2);
        const input = JSON.parse(inputJson);
        if (input.Payload !== undefined) input.Payload = Buffer.from(input.Payload, "utf8");
        const client = new LambdaClient({
          endpoint,
          region: "us-east-1",
          credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "dummy-secret" },
          maxAttempts: 1,
        });
        const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
        const base64 = (bytes) => (bytes ? Buffer.from(bytes).toString("base64") : null);
        try {
          if (operation === "stream") {
            const response = await client.send(new InvokeWithResponseStreamCommand(input));
            print({ Kind: "response", StatusCode: response.StatusCode, ExecutedVersion: response.ExecutedVersion ?? null, ContentType: response.ResponseStreamContentType ?? null });
            for await (const event of response.EventStream) {
              if (event.PayloadChunk) print({ Kind: "chunk", Payload: base64(event.PayloadChunk.Payload) });
              if (event.InvokeComplete) print({ Kind: "complete", ErrorCode: event.InvokeComplete.ErrorCode ?? null, ErrorDetails: event.InvokeComplete.ErrorDetails ?? null, LogResult: event.InvokeComplete.LogResult ?? null });
            }
          } else {
            const response = await client.send(new InvokeCommand(input));
            print({ Kind: "response", StatusCode: response.StatusCode, ExecutedVersion: response.ExecutedVersion ?? null, FunctionError: response.FunctionError ?? null, LogResult: response.LogResult ?? null, Payload: base64(response.Payload) });
          }
        } catch (error) {
          print({ Kind: "error", Name: error.name, Message: error.message, StatusCode: error.$metadata?.httpStatusCode ?? null });
        }
        print({ Kind: "end" });
        """;

    private static readonly Lazy<Task<string>> Installed = new(InstallAsync);

    /// <summary>Runs one SDK call; read its lines with <see cref="SdkCall.NextAsync"/>.</summary>
    /// <param name="operation"><c>invoke</c> or <c>stream</c>.</param>
    /// <param name="endpoint">The emulator's Lambda API endpoint.</param>
    /// <param name="input">The command's input (<c>FunctionName</c>, <c>Payload</c> as text, <c>InvocationType</c>, …).</param>
    public static async Task<SdkCall> StartAsync(string operation, Uri endpoint, object input)
    {
        var folder = await Installed.Value;
        var startInfo = new ProcessStartInfo("node")
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("call.mjs");
        startInfo.ArgumentList.Add(operation);
        startInfo.ArgumentList.Add(endpoint.ToString().TrimEnd('/'));
        startInfo.ArgumentList.Add(JsonSerializer.Serialize(input));
        return new SdkCall(Process.Start(startInfo)!);
    }

    private static async Task<string> InstallAsync()
    {
        var folder = Directory.CreateTempSubdirectory("lambda-sdk-").FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "package.json"), """{ "name": "sdk-calls", "private": true, "type": "module" }""");
        await File.WriteAllTextAsync(Path.Combine(folder, "call.mjs"), Script);
        var startInfo = new ProcessStartInfo("npm")
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "install", Package, "--no-audit", "--no-fund" })
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var npm = Process.Start(startInfo)!;
        var output = npm.StandardOutput.ReadToEndAsync();
        var error = npm.StandardError.ReadToEndAsync();
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

        Assert.True(npm.ExitCode == 0, $"npm install {Package} failed (exit code {npm.ExitCode}):\n{await output}\n{await error}");
        return folder;
    }
}

/// <summary>One running SDK call: its printed lines, one JSON object each, in the order the SDK produced them.</summary>
internal sealed class SdkCall : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly Channel<JsonElement> _lines = Channel.CreateUnbounded<JsonElement>();
    private readonly StringBuilder _errors = new();

    public SdkCall(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                _lines.Writer.TryWrite(JsonDocument.Parse(line).RootElement.Clone());
            }
            else if (e.Data is null)
            {
                _lines.Writer.TryComplete();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (_errors)
            {
                _errors.AppendLine(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The next line the SDK script printed.</summary>
    public async Task<JsonElement> NextAsync()
    {
        try
        {
            return await _lines.Reader.ReadAsync().AsTask().WaitAsync(Generous);
        }
        catch (Exception ex) when (ex is TimeoutException or ChannelClosedException)
        {
            string errors;
            lock (_errors)
            {
                errors = _errors.ToString();
            }

            throw new InvalidOperationException($"The SDK script printed no further line ({ex.GetType().Name}); its standard error:\n{errors}", ex);
        }
    }

    /// <summary>The next line, which must be of <paramref name="kind"/>.</summary>
    public async Task<JsonElement> NextAsync(string kind)
    {
        var line = await NextAsync();
        Assert.True(line.GetProperty("Kind").GetString() == kind, $"Expected a '{kind}' line from the SDK, got {line}");
        return line;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}
