using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using LambdaStreamingHosting.Testing;
using Microsoft.AspNetCore.Connections;

namespace LambdaStreamingHosting.Tool;

/// <summary>
/// <c>lambda-streaming run</c>: starts a <see cref="LambdaEmulator"/>, runs the app as a <see cref="FunctionProcess"/>
/// under it, prints the Function URL and one line per invocation, and stops both on Ctrl+C or SIGTERM.
/// </summary>
internal static class RunCommand
{
    /// <summary>Exit code for a clean stop (Ctrl+C, SIGTERM) or help.</summary>
    public const int Success = 0;

    /// <summary>Exit code when the app could not be built or started.</summary>
    public const int Failure = 1;

    /// <summary>Exit code for a command-line mistake.</summary>
    public const int UsageError = 2;

    private static readonly TimeSpan InitializationTimeout = TimeSpan.FromMinutes(2);

    // Lambda's shutdown phase ends after 2 s: the app gets as long to exit after SIGTERM.
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Runs the tool and returns its exit code.</summary>
    public static async Task<int> MainAsync(string[] args, TextWriter output, TextWriter error)
    {
        RunSettings? settings;
        try
        {
            settings = CommandLine.Parse(args);
        }
        catch (CommandLineException exception)
        {
            await error.WriteLineAsync($"lambda-streaming: {exception.Message}").ConfigureAwait(false);
            await error.WriteLineAsync("Run 'lambda-streaming --help' for usage.").ConfigureAwait(false);
            return UsageError;
        }

        if (settings is null)
        {
            await output.WriteLineAsync(CommandLine.Usage).ConfigureAwait(false);
            return Success;
        }

        using var stop = new CancellationTokenSource();
        void RequestStop(PosixSignalContext context)
        {
            context.Cancel = true; // we stop cleanly ourselves
            stop.Cancel();
        }

        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, RequestStop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, RequestStop);
        try
        {
            await RunAsync(settings, output, error, stop.Token).ConfigureAwait(false);
            return Success;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return Success;
        }
        catch (ToolException exception)
        {
            await error.WriteLineAsync($"lambda-streaming: {exception.Message}").ConfigureAwait(false);
            return Failure;
        }
    }

    private static async Task RunAsync(RunSettings settings, TextWriter output, TextWriter error, CancellationToken stopping)
    {
        var processOptions = await CreateProcessOptionsAsync(settings, output, error, stopping).ConfigureAwait(false);
        var function = new FunctionProcess(processOptions);
        LambdaEmulator emulator;
        try
        {
            emulator = await LambdaEmulator.StartAsync(
                new LambdaEmulatorOptions
                {
                    FunctionUrlPort = settings.Port,
                    LambdaApiPort = settings.ApiPort,
                    InvokeMode = settings.Buffered ? LambdaInvokeMode.Buffered : LambdaInvokeMode.ResponseStream,
                    Timeout = settings.Timeout,
                    SnapStart = settings.SnapStart,
                    Environment = function,
                    TimelinePath = settings.Timeline ? RunSettings.TimelinePath : null,
                },
                stopping).ConfigureAwait(false);
        }
        catch (IOException exception) when (exception.InnerException is AddressInUseException)
        {
            await function.DisposeAsync().ConfigureAwait(false);
            throw new ToolException($"Could not listen on port {settings.Port.ToString(CultureInfo.InvariantCulture)} or {settings.ApiPort.ToString(CultureInfo.InvariantCulture)} ({exception.Message}): choose others with --port and --api-port, or --port 0 for any free ports.");
        }

        emulator.InvocationCompleted += (_, record) => output.WriteLine(InvocationLine.Format(record));
        try
        {
            var started = Stopwatch.GetTimestamp();
            StartFunction(function, emulator.RuntimeApiEndpoint);
            await output.WriteLineAsync(
                $"lambda-streaming: started {string.Join(' ', [processOptions.FileName, .. processOptions.Arguments])} (process {function.ProcessId?.ToString(CultureInfo.InvariantCulture)})").ConfigureAwait(false);
            await WaitUntilInitializedAsync(function, stopping).ConfigureAwait(false);
            await output.WriteLineAsync(
                $"lambda-streaming: function initialised in {Stopwatch.GetElapsedTime(started).TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms").ConfigureAwait(false);
            await output.WriteLineAsync(
                $"lambda-streaming: Function URL {emulator.FunctionUrl} ({(settings.Buffered ? "BUFFERED" : "RESPONSE_STREAM")}, " +
                $"timeout {settings.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s, freeze {(settings.Freeze ? "on" : "off")}{(settings.SnapStart ? ", SnapStart: snapshot taken, restored for the first event" : "")})").ConfigureAwait(false);
            await output.WriteLineAsync(
                $"lambda-streaming: Lambda API {emulator.LambdaApiUrl} (Invoke and InvokeWithResponseStream of function '{emulator.Options.FunctionName}', for AWS SDK callers)").ConfigureAwait(false);
            if (settings.Timeline)
            {
                await output.WriteLineAsync($"lambda-streaming: timeline {new Uri(emulator.FunctionUrl, RunSettings.TimelinePath)}").ConfigureAwait(false);
            }

            await output.WriteLineAsync("lambda-streaming: press Ctrl+C to stop").ConfigureAwait(false);
            await Task.Delay(Timeout.Infinite, stopping).ConfigureAwait(false);
        }
        finally
        {
            // The app first, so it does not log connection errors from the emulator going away; it gets Lambda's
            // shutdown phase (SIGTERM, killed after 2 s), so what it logs while stopping shows.
            await ShutDownAsync(function).ConfigureAwait(false);
            await function.DisposeAsync().ConfigureAwait(false);
            try
            {
                await emulator.DisposeAsync().ConfigureAwait(false);
            }
            catch (LambdaProtocolViolationException exception)
            {
                await error.WriteLineAsync($"lambda-streaming: {exception.Message}").ConfigureAwait(false);
            }

            await output.WriteLineAsync("lambda-streaming: stopped").ConfigureAwait(false);
        }
    }

    private static async Task<FunctionProcessOptions> CreateProcessOptionsAsync(RunSettings settings, TextWriter output, TextWriter error, CancellationToken stopping)
    {
        string fileName;
        List<string> arguments;
        string? workingDirectory = null;
        if (settings.ProjectPath is { } project)
        {
            var assembly = await ProjectBuilder.BuildAsync(project, settings.Configuration, settings.ArtifactsPath, output, stopping).ConfigureAwait(false);
            fileName = "dotnet";
            arguments = [assembly];
            // The project folder is the content root, as with dotnet run (wwwroot, appsettings.json).
            workingDirectory = Directory.Exists(project) ? Path.GetFullPath(project) : Path.GetDirectoryName(Path.GetFullPath(project));
        }
        else
        {
            fileName = settings.Command[0];
            arguments = [.. settings.Command.Skip(1)];
        }

        var options = new FunctionProcessOptions
        {
            FileName = fileName,
            Arguments = arguments,
            WorkingDirectory = workingDirectory,
            Handler = settings.Handler,
            Freeze = settings.Freeze,
            SnapStart = settings.SnapStart,
            StandardOutput = output.WriteLine,
            StandardError = error.WriteLine,
        };
        foreach (var (name, value) in settings.Environment)
        {
            options.Environment[name] = value;
        }

        if (settings.Buffered)
        {
            // The app and the Function URL must agree on the invoke mode.
            options.Environment["LambdaStreaming__InvokeMode"] = nameof(LambdaInvokeMode.Buffered);
        }

        return options;
    }

    private static async Task ShutDownAsync(FunctionProcess function)
    {
        try
        {
            await function.ShutdownAsync(ShutdownTimeout).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is InvalidOperationException or TimeoutException or PlatformNotSupportedException)
        {
            // Never started, or killed after the timeout (FunctionProcess says so on standard error).
        }
    }

    private static void StartFunction(FunctionProcess function, string runtimeApiEndpoint)
    {
        try
        {
            function.Start(runtimeApiEndpoint);
        }
        catch (InvalidOperationException exception)
        {
            throw new ToolException(exception.Message);
        }
    }

    private static async Task WaitUntilInitializedAsync(FunctionProcess function, CancellationToken stopping)
    {
        try
        {
            await function.WaitUntilInitializedAsync(InitializationTimeout, stopping).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is InvalidOperationException or TimeoutException)
        {
            throw new ToolException(exception.Message);
        }
    }
}
