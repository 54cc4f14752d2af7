using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.EndToEnd;

/// <summary>The example app running one way, reached at <see cref="BaseAddress"/>; <see cref="ProcessId"/> is the app's own process.</summary>
internal abstract class AppUnderTest : IAsyncDisposable
{
    /// <summary>Environment every run of the example gets: the benchmark endpoints on, and quiet logs.</summary>
    public static readonly IReadOnlyDictionary<string, string?> AppEnvironment = new Dictionary<string, string?>
    {
        ["Benchmarks__Enabled"] = "true",
        ["Logging__LogLevel__Default"] = "Warning",
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
    };

    public abstract string Name { get; }

    public abstract Uri BaseAddress { get; }

    public abstract int ProcessId { get; }

    /// <summary>Whether responses stream (false: the whole answer is buffered, so stream measurements do not apply).</summary>
    public abstract bool Streams { get; }

    public abstract ValueTask DisposeAsync();
}

/// <summary>The example on Kestrel, as a child process listening on a free loopback port.</summary>
internal sealed class KestrelApp : AppUnderTest
{
    private readonly Process _process;

    private KestrelApp(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public override string Name => "Kestrel direct";

    public override Uri BaseAddress { get; }

    public override int ProcessId => _process.Id;

    public override bool Streams => true;

    /// <summary>Process spawn to the first successful answer to the build's cold-start path, polled every few milliseconds.</summary>
    public TimeSpan SpawnToFirstResponse { get; private set; }

    public static async Task<KestrelApp> StartAsync(ExampleBuild build, HttpClient client)
    {
        var port = FreePort();
        var startInfo = new ProcessStartInfo(build.FileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = build.Directory,
        };
        foreach (var argument in build.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in AppEnvironment)
        {
            startInfo.Environment[name] = value;
        }

        startInfo.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        startInfo.Environment.Remove("AWS_LAMBDA_RUNTIME_API");
        var spawned = Stopwatch.GetTimestamp();
        var process = Process.Start(startInfo)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var app = new KestrelApp(process, new Uri($"http://127.0.0.1:{port}/"));
        await app.WaitUntilListeningAsync(client, new Uri(app.BaseAddress, build.App.ColdStartPath));
        app.SpawnToFirstResponse = Stopwatch.GetElapsedTime(spawned);
        return app;
    }

    public override async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    private async Task WaitUntilListeningAsync(HttpClient client, Uri uri)
    {
        var deadline = Stopwatch.GetTimestamp() + (60 * Stopwatch.Frequency);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The Kestrel app exited with code {_process.ExitCode} during start-up.");
            }

            try
            {
                using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (Stopwatch.GetTimestamp() < deadline)
            {
            }

            // Polling (a connection refused comes back at once): the cold-start figure is this precise.
            await Task.Delay(2);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>The example as a Lambda function: a child process under the emulator, reached through its Function URL.</summary>
internal sealed class EmulatedApp : AppUnderTest
{
    private readonly FunctionProcess _function;
    private readonly LambdaEmulator _emulator;
    private readonly LambdaInvokeMode _mode;

    private EmulatedApp(FunctionProcess function, LambdaEmulator emulator, LambdaInvokeMode mode, string? name)
    {
        _function = function;
        _emulator = emulator;
        _mode = mode;
        Name = name ?? (mode == LambdaInvokeMode.ResponseStream ? "Lambda streaming (emulator)" : "Lambda buffered (emulator)");
    }

    public override string Name { get; }

    public override Uri BaseAddress => _emulator.FunctionUrl;

    public override int ProcessId => _function.ProcessId ?? throw new InvalidOperationException("The function is not running.");

    public override bool Streams => _mode == LambdaInvokeMode.ResponseStream;

    /// <summary>Starts an emulator and the function under it, and waits until the function asks for its first event.</summary>
    public static async Task<EmulatedApp> StartAsync(FunctionProcessOptions options, LambdaInvokeMode mode, string? name = null)
    {
        var (function, emulator) = await CreateAsync(options, mode);
        function.Start(emulator.RuntimeApiEndpoint);
        await function.WaitUntilInitializedAsync(TimeSpan.FromSeconds(60));
        return new EmulatedApp(function, emulator, mode, name);
    }

    /// <summary>
    /// An emulator with the function as its environment, the function not started yet; the function's
    /// <c>LambdaStreaming__InvokeMode</c> is set to <paramref name="mode"/>, the Function URL's mode.
    /// </summary>
    public static async Task<(FunctionProcess Function, LambdaEmulator Emulator)> CreateAsync(FunctionProcessOptions options, LambdaInvokeMode mode)
    {
        options.Environment["LambdaStreaming__InvokeMode"] = mode.ToString();
        var function = new FunctionProcess(options);
        try
        {
            var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions
            {
                Environment = function,
                InvokeMode = mode,
                // The 200 MB memory run sends exactly Lambda's limit of body bytes, plus the prelude.
                MaxStreamedResponseBytes = 256L * 1024 * 1024,
                Timeout = TimeSpan.FromMinutes(5),
            });
            return (function, emulator);
        }
        catch
        {
            await function.DisposeAsync();
            throw;
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await _function.DisposeAsync();
        await _emulator.DisposeAsync();
    }
}
