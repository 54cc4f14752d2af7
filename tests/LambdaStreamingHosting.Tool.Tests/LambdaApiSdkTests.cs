using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.Tool.Tests;

/// <summary>
/// AWS's SDK for JavaScript (<c>@aws-sdk/client-lambda</c>) calls the emulator's Lambda API, pointed at
/// <see cref="LambdaEmulator.LambdaApiUrl"/> with dummy credentials (it signs every request with SigV4), and invokes a
/// real .NET function (FunctionApp) running as a separate process: what such a caller receives from an HTTP-streaming
/// function is the prelude, the 8 NUL bytes, then the body, chunk by chunk.
/// </summary>
public sealed class LambdaApiSdkTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private static readonly byte[] Delimiter = new byte[8];

    [NodeFact]
    public async Task InvokeWithResponseStream_yields_each_chunk_as_the_function_writes_it_then_InvokeComplete()
    {
        await using var function = await RunningFunction.StartAsync();
        using var gate = new NamedPipe();

        using var call = await LambdaSdkClient.StartAsync("stream", function.Emulator.LambdaApiUrl, new
        {
            FunctionName = "function",
            Payload = UrlEvent("/stream", $"gate={Uri.EscapeDataString(gate.Path)}"),
            LogType = "Tail",
        });

        var response = await call.NextAsync("response");
        Assert.Equal(200, response.GetProperty("StatusCode").GetInt32());
        Assert.Equal("$LATEST", response.GetProperty("ExecutedVersion").GetString());
        // The gate is still closed: "first" can only be here because the chunk was forwarded as it was written.
        var received = new List<byte>();
        while (!EndsWith(received, "first\n"))
        {
            received.AddRange(Convert.FromBase64String((await call.NextAsync("chunk")).GetProperty("Payload").GetString()!));
        }

        await gate.OpenAsync();
        JsonElement line;
        while ((line = await call.NextAsync()).GetProperty("Kind").GetString() == "chunk")
        {
            received.AddRange(Convert.FromBase64String(line.GetProperty("Payload").GetString()!));
        }

        Assert.Equal("complete", line.GetProperty("Kind").GetString());
        Assert.Equal(JsonValueKind.Null, line.GetProperty("ErrorCode").ValueKind);
        var (prelude, body) = SplitAtDelimiter([.. received]);
        Assert.Equal(200, prelude.GetProperty("statusCode").GetInt32());
        var contentType = prelude.GetProperty("headers").EnumerateObject().Single(h => h.Name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase));
        Assert.StartsWith("text/plain", contentType.Value.GetString(), StringComparison.Ordinal);
        Assert.Equal("first\nsecond\n", body);
        var log = Encoding.UTF8.GetString(Convert.FromBase64String(line.GetProperty("LogResult").GetString()!));
        var record = Assert.Single(await function.Emulator.WaitForInvocationsAsync(1));
        Assert.StartsWith($"START RequestId: {record.RequestId} Version: $LATEST\n", log, StringComparison.Ordinal);
        Assert.Contains($"\nEND RequestId: {record.RequestId}\nREPORT RequestId: {record.RequestId}\tDuration: ", log, StringComparison.Ordinal);
        Assert.Equal(LambdaFrontDoor.LambdaApi, record.FrontDoor);
        Assert.True(record.Streamed);
        Assert.Equal("end", (await call.NextAsync()).GetProperty("Kind").GetString());
    }

    [NodeFact]
    public async Task A_failure_in_the_middle_of_the_stream_reaches_InvokeComplete_with_the_function_s_error_type()
    {
        await using var function = await RunningFunction.StartAsync();

        using var call = await LambdaSdkClient.StartAsync("stream", function.Emulator.LambdaApiUrl, new
        {
            FunctionName = function.Emulator.Options.FunctionArn,
            Payload = UrlEvent("/fail", ""),
        });

        Assert.Equal(200, (await call.NextAsync("response")).GetProperty("StatusCode").GetInt32());
        var received = new List<byte>();
        JsonElement line;
        while ((line = await call.NextAsync()).GetProperty("Kind").GetString() == "chunk")
        {
            received.AddRange(Convert.FromBase64String(line.GetProperty("Payload").GetString()!));
        }

        Assert.Equal("complete", line.GetProperty("Kind").GetString());
        var record = Assert.Single(await function.Emulator.WaitForInvocationsAsync(1));
        Assert.NotNull(record.ErrorType);
        Assert.Equal(record.ErrorType, line.GetProperty("ErrorCode").GetString());
        Assert.Equal(record.ErrorMessage, line.GetProperty("ErrorDetails").GetString());
        Assert.Equal("partial\n", SplitAtDelimiter([.. received]).Body);
        Assert.Equal(JsonValueKind.Null, line.GetProperty("LogResult").ValueKind); // not asked for
    }

    [NodeFact]
    public async Task Invoke_with_LogType_Tail_returns_what_the_function_wrote_during_the_invocation()
    {
        await using var function = await RunningFunction.StartAsync();
        using var gate = new NamedPipe();
        var marker = $"log line {Guid.NewGuid():N}";

        using var call = await LambdaSdkClient.StartAsync("invoke", function.Emulator.LambdaApiUrl, new
        {
            FunctionName = "function",
            Payload = UrlEvent("/log", $"line={Uri.EscapeDataString(marker)}&gate={Uri.EscapeDataString(gate.Path)}"),
            LogType = "Tail",
        });
        await function.Output.WaitForAsync(new Regex(Regex.Escape(marker)), timeout: Generous);
        await gate.OpenAsync();

        var response = await call.NextAsync("response");
        Assert.Equal(200, response.GetProperty("StatusCode").GetInt32());
        Assert.Equal(JsonValueKind.Null, response.GetProperty("FunctionError").ValueKind);
        // Invoke returns the streamed answer whole: prelude, delimiter and body.
        var (prelude, body) = SplitAtDelimiter(Convert.FromBase64String(response.GetProperty("Payload").GetString()!));
        Assert.Equal(200, prelude.GetProperty("statusCode").GetInt32());
        Assert.Equal("logged", body);
        var log = Encoding.UTF8.GetString(Convert.FromBase64String(response.GetProperty("LogResult").GetString()!));
        var record = Assert.Single(await function.Emulator.WaitForInvocationsAsync(1));
        Assert.Contains($"START RequestId: {record.RequestId} Version: $LATEST\n", log, StringComparison.Ordinal);
        Assert.Contains($"\n{marker}\n", log, StringComparison.Ordinal);
        Assert.True(log.IndexOf(marker, StringComparison.Ordinal) < log.IndexOf("END RequestId", StringComparison.Ordinal), log);
    }

    [NodeFact]
    public async Task Invoke_passes_the_qualifier_and_client_context_as_Lambda_does_and_Event_and_DryRun_answer_202_and_204()
    {
        await using var function = await RunningFunction.StartAsync();
        var context = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{ "custom": { "tenant": "blue" } }"""));

        using (var call = await LambdaSdkClient.StartAsync("invoke", function.Emulator.LambdaApiUrl, new
        {
            FunctionName = "function",
            Qualifier = "live",
            ClientContext = context,
            Payload = UrlEvent("/invocation", ""),
        }))
        {
            var response = await call.NextAsync("response");
            Assert.Equal("$LATEST", response.GetProperty("ExecutedVersion").GetString());
            var (_, body) = SplitAtDelimiter(Convert.FromBase64String(response.GetProperty("Payload").GetString()!));
            Assert.Equal($"{function.Emulator.Options.FunctionArn}:live\n{{\"custom\":{{\"tenant\":\"blue\"}}}}", body);
        }

        using (var call = await LambdaSdkClient.StartAsync("invoke", function.Emulator.LambdaApiUrl, new
        {
            FunctionName = "function:7",
            Payload = UrlEvent("/", ""),
            InvocationType = "DryRun",
        }))
        {
            var response = await call.NextAsync("response");
            Assert.Equal(204, response.GetProperty("StatusCode").GetInt32());
            Assert.Equal("7", response.GetProperty("ExecutedVersion").GetString());
        }

        using (var call = await LambdaSdkClient.StartAsync("invoke", function.Emulator.LambdaApiUrl, new
        {
            FunctionName = "function",
            Payload = UrlEvent("/", ""),
            InvocationType = "Event",
        }))
        {
            Assert.Equal(202, (await call.NextAsync("response")).GetProperty("StatusCode").GetInt32());
        }

        // The event runs after the caller got its 202; the dry run never ran.
        var records = await function.Emulator.WaitForInvocationsAsync(2);
        Assert.Equal(2, records.Count);
        Assert.All(records, record => Assert.Null(record.ErrorType));
    }

    [NodeFact]
    public async Task Bad_calls_get_Lambda_s_errors_as_the_SDK_names_them()
    {
        await using var function = await RunningFunction.StartAsync();

        using (var call = await LambdaSdkClient.StartAsync("invoke", function.Emulator.LambdaApiUrl, new { FunctionName = "other-function", Payload = "{}" }))
        {
            var error = await call.NextAsync("error");
            Assert.Equal("ResourceNotFoundException", error.GetProperty("Name").GetString());
            Assert.Equal(404, error.GetProperty("StatusCode").GetInt32());
            Assert.Contains("arn:aws:lambda:us-east-1:123456789012:function:other-function", error.GetProperty("Message").GetString(), StringComparison.Ordinal);
        }

        using (var call = await LambdaSdkClient.StartAsync("stream", function.Emulator.LambdaApiUrl, new { FunctionName = "function", Payload = "{}", InvocationType = "Event" }))
        {
            var error = await call.NextAsync("error");
            Assert.Equal("InvalidParameterValueException", error.GetProperty("Name").GetString());
            Assert.Equal(400, error.GetProperty("StatusCode").GetInt32());
        }

        using (var call = await LambdaSdkClient.StartAsync("invoke", function.Emulator.LambdaApiUrl, new { FunctionName = "function", Payload = "{ not json" }))
        {
            var error = await call.NextAsync("error");
            Assert.Equal("InvalidRequestContentException", error.GetProperty("Name").GetString());
            Assert.Equal(400, error.GetProperty("StatusCode").GetInt32());
        }

        Assert.Empty(function.Emulator.Invocations);
    }

    [NodeFact]
    public async Task The_runner_serves_the_Lambda_API_on_the_address_it_prints()
    {
        using var tool = ToolProcess.Start("run", "--port", "0", "--", "dotnet", FunctionApp.AssemblyPath);
        var endpoint = new Uri((await tool.Output.WaitForAsync(new Regex(@"^lambda-streaming: Lambda API (http://127\.0\.0\.1:\d+/) "), timeout: Generous)).Groups[1].Value);

        using (var call = await LambdaSdkClient.StartAsync("invoke", endpoint, new { FunctionName = "function", Payload = UrlEvent("/", ""), LogType = "Tail" }))
        {
            var response = await call.NextAsync("response");
            Assert.Equal(200, response.GetProperty("StatusCode").GetInt32());
            Assert.Equal("hello from function", SplitAtDelimiter(Convert.FromBase64String(response.GetProperty("Payload").GetString()!)).Body);
            Assert.StartsWith("START RequestId: ", Encoding.UTF8.GetString(Convert.FromBase64String(response.GetProperty("LogResult").GetString()!)), StringComparison.Ordinal);
        }

        await tool.Output.WaitForAsync(new Regex(@"^invoke \S+  POST /2015-03-31/functions/function/invocations  200  "), timeout: Generous);
        await tool.SignalAsync("INT");
        Assert.Equal(0, await tool.WaitForExitAsync(Generous));
    }

    /// <summary>A Function URL event (payload 2.0) for a GET, as a caller would send it through the SDK.</summary>
    internal static string UrlEvent(string path, string query) => JsonSerializer.Serialize(new
    {
        version = "2.0",
        routeKey = "$default",
        rawPath = path,
        rawQueryString = query,
        headers = new Dictionary<string, string> { ["host"] = "function.lambda-url.us-east-1.on.aws" },
        requestContext = new
        {
            accountId = "123456789012",
            domainName = "function.lambda-url.us-east-1.on.aws",
            http = new { method = "GET", path, protocol = "HTTP/1.1", sourceIp = "127.0.0.1", userAgent = "sdk-test" },
            requestId = "sdk-test",
            routeKey = "$default",
            stage = "$default",
            timeEpoch = 0,
        },
        isBase64Encoded = false,
    });

    private static bool EndsWith(List<byte> bytes, string text)
    {
        var tail = Encoding.UTF8.GetBytes(text);
        return bytes.Count >= tail.Length && bytes[^tail.Length..].SequenceEqual(tail);
    }

    private static (JsonElement Prelude, string Body) SplitAtDelimiter(byte[] payload)
    {
        var at = payload.AsSpan().IndexOf(Delimiter);
        Assert.True(at >= 0, $"No 8 NUL bytes after the prelude in: {Encoding.UTF8.GetString(payload)}");
        return (JsonDocument.Parse(payload.AsMemory(0, at)).RootElement.Clone(), Encoding.UTF8.GetString(payload.AsSpan(at + Delimiter.Length)));
    }

    /// <summary>FunctionApp as a process under an emulator.</summary>
    private sealed class RunningFunction : IAsyncDisposable
    {
        private readonly FunctionProcess _process;

        private RunningFunction(FunctionProcess process, LambdaEmulator emulator, OutputLines output)
        {
            _process = process;
            Emulator = emulator;
            Output = output;
        }

        public LambdaEmulator Emulator { get; }

        public OutputLines Output { get; }

        public static async Task<RunningFunction> StartAsync()
        {
            var output = new OutputLines();
            var process = new FunctionProcess(FunctionApp.ProcessOptions(freeze: false, output));
            var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = process });
            var running = new RunningFunction(process, emulator, output);
            try
            {
                process.Start(emulator.RuntimeApiEndpoint);
                await process.WaitUntilInitializedAsync(Generous);
                return running;
            }
            catch
            {
                await running.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _process.DisposeAsync();
            await Emulator.DisposeAsync();
        }
    }
}
