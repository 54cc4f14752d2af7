using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// Runs a function as a separate process under a <see cref="LambdaEmulator"/>, the way Lambda runs it in an execution
/// environment: with the Lambda environment variables, really frozen (<c>SIGSTOP</c>) while idle when
/// <see cref="FunctionProcessOptions.Freeze"/> is set, thawed (<c>SIGCONT</c>) when an event arrives, and killed and
/// started again (a cold start) on reset. Give it to the emulator as its environment, then start it with the emulator's
/// Runtime API endpoint:
/// <code>
/// await using var function = new FunctionProcess(new FunctionProcessOptions { FileName = "dotnet", Arguments = ["App.dll"], Freeze = true });
/// await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { Environment = function });
/// function.Start(emulator.RuntimeApiEndpoint);
/// await function.WaitUntilInitializedAsync(TimeSpan.FromSeconds(60));
/// </code>
/// Freezing needs Linux or macOS; confirming a freeze and freezing child processes of the function need Linux.
/// </summary>
public sealed class FunctionProcess : IFunctionEnvironment, IAsyncDisposable
{
    private const int OutputTailLines = 60;

    private static readonly TimeSpan OutputDrainTimeout = TimeSpan.FromSeconds(2);

    // Every process still running, killed if the host process exits without disposing (a frozen orphan would stay
    // stopped forever).
    private static readonly ConcurrentDictionary<FunctionProcess, byte> Running = new();

    private readonly FunctionProcessOptions _options;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Queue<string> _outputTail = new();
    private string? _runtimeApiEndpoint;
    private Instance? _current;
    private List<int> _frozen = []; // every process SIGSTOP was sent to, so a thaw continues exactly those
    private volatile bool _freezeConfirmed;
    private int _startCount;
    private bool _shutDown;
    private bool _disposed;

    static FunctionProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var function in Running.Keys)
        {
            function._current?.Kill();
        }
    };

    /// <summary>Creates a function process; <see cref="Start"/> starts it.</summary>
    /// <param name="options">The command line and environment. Validated here.</param>
    public FunctionProcess(FunctionProcessOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <summary>The id of the running process, or <see langword="null"/> before <see cref="Start"/>.</summary>
    public int? ProcessId => _current?.Id;

    /// <summary>Whether the process is frozen right now: every thread was seen stopped (on Linux; elsewhere, signalled).</summary>
    public bool IsFrozen => _freezeConfirmed;

    /// <summary>How many times the process was started: 1 after <see cref="Start"/>, one more for each reset (cold start).</summary>
    public int StartCount => Volatile.Read(ref _startCount);

    /// <summary>The last lines the function wrote to standard output and standard error, for diagnostics.</summary>
    public string RecentOutput
    {
        get
        {
            lock (_outputTail)
            {
                return string.Join(System.Environment.NewLine, _outputTail);
            }
        }
    }

    /// <summary>Starts the process with <c>AWS_LAMBDA_RUNTIME_API</c> set to <paramref name="runtimeApiEndpoint"/>.</summary>
    /// <param name="runtimeApiEndpoint">The emulator's Runtime API, <c>host:port</c>.</param>
    /// <exception cref="InvalidOperationException">The process was already started, or the program could not be started.</exception>
    public void Start(string runtimeApiEndpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runtimeApiEndpoint);
        _gate.Wait();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_current is not null)
            {
                throw new InvalidOperationException("The function process was already started; ResetAsync starts it again.");
            }

            _runtimeApiEndpoint = runtimeApiEndpoint;
            StartInstance();
            Running.TryAdd(this, 0);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Waits until the function has initialised: it asked the Runtime API for its first event since it was (re)started.
    /// The emulator reports it by freezing the idle function (<see cref="FreezeAsync"/>; a caller then finds it frozen)
    /// or, where it does not freeze it (an event is waiting, or Managed Instances concurrency), through
    /// <see cref="NextEventRequestedAsync"/>.
    /// </summary>
    /// <param name="timeout">How long initialisation may take.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="InvalidOperationException">The process exited first; the message carries its last output.</exception>
    /// <exception cref="TimeoutException">The function did not ask for an event in time.</exception>
    public async Task WaitUntilInitializedAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var instance = _current ?? throw new InvalidOperationException("The function process was not started: call Start first.");
        try
        {
            await instance.Initialized.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(
                $"The function did not ask for its first event within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s. " +
                $"Does its Program.cs call builder.Services.AddLambdaStreaming()? {DescribeOutput()}");
        }
    }

    /// <summary>Waits until the current process exits, for whatever reason.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The exit code.</returns>
    public Task<int> WaitForExitAsync(CancellationToken cancellationToken = default)
    {
        var instance = _current ?? throw new InvalidOperationException("The function process was not started: call Start first.");
        return instance.Exit.WaitAsync(cancellationToken);
    }

    /// <summary>Called by the emulator when the function asks for its next event and is not frozen for it: marks it initialised.</summary>
    /// <param name="cancellationToken">Not used: marking does not wait.</param>
    public ValueTask NextEventRequestedAsync(CancellationToken cancellationToken)
    {
        _current?.Initialized.TrySetResult();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Called by the emulator when the function is idle. Marks it initialised and, when
    /// <see cref="FunctionProcessOptions.Freeze"/> is set, stops the process and its children with <c>SIGSTOP</c>
    /// and waits until every thread is stopped.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for the freeze to take effect.</param>
    /// <exception cref="InvalidOperationException">The process has exited.</exception>
    /// <exception cref="TimeoutException">The process did not stop within <see cref="FunctionProcessOptions.FreezeTimeout"/>.</exception>
    public async ValueTask FreezeAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_disposed || _shutDown || _current is not { } instance)
            {
                return;
            }

            try
            {
                if (_options.Freeze && Volatile.Read(ref _frozen).Count == 0)
                {
                    await StopProcessTreeAsync(instance, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                // After the freeze, so a caller of WaitUntilInitializedAsync finds the process already frozen.
                instance.Initialized.TrySetResult();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Called by the emulator before it hands an event to the function: continues a frozen process with <c>SIGCONT</c>.</summary>
    /// <param name="cancellationToken">Not used: thawing does not wait.</param>
    /// <exception cref="InvalidOperationException">The process has exited.</exception>
    public async ValueTask ThawAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_disposed || _shutDown || _current is not { } instance)
            {
                return;
            }

            instance.Initialized.TrySetResult();
            ContinueFrozen();
            ThrowIfExited(instance, "thaw");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Called by the emulator after a timeout or a crash: kills the process and its children (<c>SIGKILL</c>) and starts
    /// it again, so the next invocation is a cold start.
    /// </summary>
    /// <param name="reason">Why, for example <c>Sandbox.Timedout</c>.</param>
    /// <param name="cancellationToken">Stops waiting for the old process to exit.</param>
    public async ValueTask ResetAsync(string reason, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_disposed || _shutDown || _current is null)
            {
                return;
            }

            Notify($"lambda-streaming: resetting the function ({reason}): killing process {_current.Id} and starting it again");
            await StopInstanceAsync(cancellationToken).ConfigureAwait(false);
            StartInstance();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Ends the function the way Lambda's Shutdown phase does: thaws it if it is frozen, sends it <c>SIGTERM</c>, and waits
    /// up to <paramref name="timeout"/> for it to exit; a process still running then is killed (<c>SIGKILL</c>), as Lambda
    /// kills it. Lambda leaves the runtime 300 ms (500 ms with an internal extension) and ends the whole phase after
    /// 2 s. Afterwards the environment is gone: a reset the emulator asks for starts nothing.
    /// </summary>
    /// <param name="timeout">How long the process may take to exit after <c>SIGTERM</c>.</param>
    /// <param name="cancellationToken">Stops waiting (the process is then killed).</param>
    /// <returns>The process's exit code.</returns>
    /// <exception cref="InvalidOperationException">The process was not started.</exception>
    /// <exception cref="TimeoutException">The process did not exit in time and was killed.</exception>
    public async Task<int> ShutdownAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!PosixProcessSignals.IsSupported)
        {
            throw new PlatformNotSupportedException("Sending SIGTERM to a function process needs Linux or macOS.");
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var instance = _current ?? throw new InvalidOperationException("The function process was not started: call Start first.");
            _shutDown = true;
            if (!instance.Exit.IsCompleted)
            {
                // Lambda thaws a frozen environment for its Shutdown phase; the signal waits for the continue either way.
                ContinueFrozen();
                PosixProcessSignals.Terminate(instance.Id);
            }

            try
            {
                return await instance.Exit.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                Notify($"lambda-streaming: the function did not exit after SIGTERM: killing process {instance.Id.ToString(CultureInfo.InvariantCulture)}");
                instance.Kill();
                await instance.Exit.ConfigureAwait(false);
                if (ex is OperationCanceledException)
                {
                    throw;
                }

                throw new TimeoutException(
                    $"The function did not exit within {timeout.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms of SIGTERM and was killed (SIGKILL), as Lambda kills it. {DescribeOutput()}",
                    ex);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Kills the process and its children and waits until it has exited.</summary>
    /// <returns>A task that completes when the process is gone.</returns>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Running.TryRemove(this, out _);
            await StopInstanceAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private void StartInstance()
    {
        var startInfo = new ProcessStartInfo(_options.FileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
        };
        foreach (var argument in _options.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        if (_options.WorkingDirectory is not null)
        {
            startInfo.WorkingDirectory = _options.WorkingDirectory;
        }

        LambdaEnvironment.Apply(startInfo.Environment, _options, _runtimeApiEndpoint!);

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, line) => OnOutput(line.Data, _options.StandardOutput);
        process.ErrorDataReceived += (_, line) => OnOutput(line.Data, _options.StandardError);
        try
        {
            process.Start();
        }
        catch (Win32Exception exception)
        {
            process.Dispose();
            throw new InvalidOperationException(
                $"Could not start the function '{_options.FileName}': {exception.Message}. Check FunctionProcessOptions.FileName and WorkingDirectory.",
                exception);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _current = new Instance(process, this);
        Interlocked.Increment(ref _startCount);
    }

    private async Task StopInstanceAsync(CancellationToken cancellationToken)
    {
        if (_current is not { } instance)
        {
            return;
        }

        instance.Kill();
        _freezeConfirmed = false;
        Volatile.Write(ref _frozen, []);
        await instance.Exit.WaitAsync(cancellationToken).ConfigureAwait(false);
        instance.Process.Dispose();
    }

    private void ContinueFrozen()
    {
        _freezeConfirmed = false;
        var frozen = Volatile.Read(ref _frozen);
        // Children first, so that nothing the parent does on waking finds a child still stopped.
        for (var index = frozen.Count - 1; index >= 0; index--)
        {
            PosixProcessSignals.Continue(frozen[index]);
        }

        Volatile.Write(ref _frozen, []);
    }

    private async Task StopProcessTreeAsync(Instance instance, CancellationToken cancellationToken)
    {
        if (!PosixProcessSignals.IsSupported)
        {
            throw new PlatformNotSupportedException("Freezing a function process needs Linux or macOS; set FunctionProcessOptions.Freeze to false.");
        }

        ThrowIfExited(instance, "freeze");
        // The parent first: once it is stopped it cannot start a child we would miss. Then its descendants, until a look
        // at the process tree finds nothing new (a child may itself have started one while being stopped).
        List<int> stopped = [];
        Volatile.Write(ref _frozen, stopped);
        List<int> fresh = PosixProcessSignals.Stop(instance.Id) ? [instance.Id] : [];
        while (fresh.Count > 0)
        {
            stopped.AddRange(fresh);
            await WaitUntilStoppedAsync(fresh, cancellationToken).ConfigureAwait(false);
            fresh = [.. PosixProcessSignals.GetDescendants(instance.Id).Where(pid => !stopped.Contains(pid) && PosixProcessSignals.Stop(pid))];
        }

        ThrowIfExited(instance, "freeze");
        _freezeConfirmed = true;
    }

    private async Task WaitUntilStoppedAsync(List<int> pids, CancellationToken cancellationToken)
    {
        // The kernel stops each thread when it next runs; there is no notification for another process's stop (only
        // its parent could waitpid, and the .NET runtime owns that), so poll /proc briefly.
        var deadline = Stopwatch.GetTimestamp() + (long)(_options.FreezeTimeout.TotalSeconds * Stopwatch.Frequency);
        foreach (var pid in pids)
        {
            while (PosixProcessSignals.IsStopped(pid) == false)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException(
                        $"SIGSTOP was sent to process {pid.ToString(CultureInfo.InvariantCulture)} but it had not stopped after {_options.FreezeTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s.");
                }

                await Task.Delay(1, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private void ThrowIfExited(Instance instance, string action)
    {
        if (instance.Exit.IsCompleted)
        {
            throw new InvalidOperationException(
                $"Cannot {action} the function: its process {instance.Id.ToString(CultureInfo.InvariantCulture)} exited with code {instance.Exit.Result.ToString(CultureInfo.InvariantCulture)}. {DescribeOutput()}");
        }
    }

    private string DescribeOutput()
    {
        var output = RecentOutput;
        return output.Length == 0 ? "It wrote no output." : $"Its last output:{System.Environment.NewLine}{output}";
    }

    /// <summary>Raised with each line the function writes (standard output or error), before it is forwarded.</summary>
    internal event Action<string>? LineWritten;

    private void OnOutput(string? line, Action<string>? forward)
    {
        if (line is not null)
        {
            AppendOutput(line);
            LineWritten?.Invoke(line);
            Forward(line, forward);
        }
    }

    // A note about the process (reset, exit) for the standard error callback; not part of the function's own output.
    private void Notify(string note) => Forward(note, _options.StandardError);

    private static void Forward(string line, Action<string>? forward)
    {
        try
        {
            forward?.Invoke(line);
        }
#pragma warning disable CA1031 // A failing output callback (e.g. a finished test's output helper) must not crash the host.
        catch
#pragma warning restore CA1031
        {
        }
    }

    private void AppendOutput(string line)
    {
        lock (_outputTail)
        {
            if (_outputTail.Count == OutputTailLines)
            {
                _outputTail.Dequeue();
            }

            _outputTail.Enqueue(line);
        }
    }

    /// <summary>One start of the process: it lives until it exits or is killed by a reset.</summary>
    private sealed class Instance
    {
        // Set by Kill on the emulator's or the disposer's thread, read when the exit is observed.
        private volatile bool _killedOnPurpose;

        public Instance(Process process, FunctionProcess owner)
        {
            Process = process;
            Id = process.Id;
            Exit = ObserveExitAsync(owner);
        }

        public Process Process { get; }

        public int Id { get; }

        public TaskCompletionSource Initialized { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<int> Exit { get; }

        public void Kill()
        {
            _killedOnPurpose = true;
            try
            {
                Process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }
        }

        private async Task<int> ObserveExitAsync(FunctionProcess owner)
        {
            var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Process.Exited += (_, _) => exited.TrySetResult();
            if (Process.HasExited)
            {
                exited.TrySetResult();
            }

            await exited.Task.ConfigureAwait(false);
            try
            {
                // Let the output pipes drain so the tail is complete; a grandchild that escaped the kill may hold them
                // open forever, so do not wait long.
                await Process.WaitForExitAsync().WaitAsync(OutputDrainTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }

            var code = Process.ExitCode;
            if (!_killedOnPurpose)
            {
                owner.Notify($"lambda-streaming: the function process {Id.ToString(CultureInfo.InvariantCulture)} exited with code {code.ToString(CultureInfo.InvariantCulture)}");
            }

            Initialized.TrySetException(new InvalidOperationException(_killedOnPurpose
                ? "The function process was killed (reset or disposed) before it asked for its first event."
                : $"The function process exited with code {code.ToString(CultureInfo.InvariantCulture)} before it asked for its first event. {owner.DescribeOutput()}"));
            return code;
        }
    }
}
