using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using LambdaStreamingHosting.Lifecycle;
using LambdaStreamingHosting.Logging;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// The <see cref="IServer"/> that replaces Kestrel inside Lambda: it takes requests from the Lambda Runtime API
/// instead of a socket. Start-up runs the init hooks (and SnapStart's snapshot/restore), then starts one invocation
/// loop per allowed concurrent invocation. A broken Runtime API stops the host with exit code 1. Stopping (the host
/// got <c>SIGTERM</c>, Lambda's shutdown phase) takes no more events; invocations in flight may finish until the host's
/// shutdown timeout, then they are aborted and given <see cref="ShutdownAbortGrace"/> to end.
/// </summary>
internal sealed class LambdaServer : IServer
{
    /// <summary>
    /// <c>HostOptions.ShutdownTimeout</c> inside Lambda, unless the app changed it from the default: Lambda leaves the
    /// runtime 300 ms between <c>SIGTERM</c> and <c>SIGKILL</c> (500 ms with an internal extension), so invocations in
    /// flight get 150 ms, and aborting them, the rest of the host's stop, the logs and the exit the rest.
    /// </summary>
    internal static readonly TimeSpan LambdaShutdownTimeout = TimeSpan.FromMilliseconds(150);

    /// <summary>How long invocations aborted at shutdown get to end (their error trailers sent) before the host stops anyway.</summary>
    internal static readonly TimeSpan ShutdownAbortGrace = TimeSpan.FromMilliseconds(500);

    private static readonly TimeSpan DefaultHostShutdownTimeout = new HostOptions().ShutdownTimeout;
    private static readonly TimeSpan LogFlushTimeout = TimeSpan.FromSeconds(1);
    private readonly LambdaServerSettings _settings;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<RuntimeApiClient> _clients = [];
    private readonly LambdaLoggerProvider? _lambdaLogger;
    private Task[] _loops = [];
    private Func<bool>[] _abortForShutdown = [];
    private volatile bool _stopRequested;
    private int _warnedCannotStream;
    private int _warnedInvocationIdIgnored;
    private bool _disposed;

    public LambdaServer(
        IOptions<LambdaStreamingOptions> options,
        LambdaServerSettings settings,
        IEnumerable<ILambdaLifecycleObserver> observers,
        IHostApplicationLifetime lifetime,
        ILoggerFactory loggerFactory,
        IMeterFactory? meterFactory = null,
        LambdaLoggerProvider? lambdaLogger = null)
    {
        _lambdaLogger = lambdaLogger;
        Options = options.Value;
        _settings = settings;
        _lifetime = lifetime;
        _logger = loggerFactory.CreateLogger("LambdaStreamingHosting.Server");
        Lifecycle = new LifecycleNotifier(observers, _logger);
        Telemetry = new InvocationTelemetry(meterFactory, settings.Region);
        Endpoint = RuntimeApiEndpoint.Parse(settings.EndpointOverridesOptions
            ? settings.RuntimeApiEndpoint
            : Options.RuntimeApiEndpoint ?? settings.RuntimeApiEndpoint);
        Concurrency = Options.MaxConcurrency ?? settings.MaxConcurrency ?? 1;
        var addresses = new ServerAddressesFeature();
        addresses.Addresses.Add(Endpoint.BaseUrl);
        Features.Set<IServerAddressesFeature>(addresses);
    }

    public IFeatureCollection Features { get; } = new FeatureCollection();

    public LambdaStreamingOptions Options { get; }

    public RuntimeApiEndpoint Endpoint { get; }

    /// <summary>How many invocation loops run.</summary>
    public int Concurrency { get; }

    internal LambdaServerSettings Settings => _settings;

    /// <summary>Whether the Lambda logger writes this app's log entries (each invocation then sets its <see cref="InvocationLogContext"/>).</summary>
    internal bool LambdaLoggerEnabled => _lambdaLogger?.Enabled == true;

    internal LifecycleNotifier Lifecycle { get; }

    internal InvocationTelemetry Telemetry { get; }

    /// <summary>The server's clock (<see cref="LambdaServerSettings.Time"/>).</summary>
    internal TimeProvider Time => _settings.Time;

    public async Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        for (var i = 0; i < Concurrency; i++)
        {
            _clients.Add(new RuntimeApiClient(Endpoint));
        }

        await InitializeAsync(_clients[0], cancellationToken).ConfigureAwait(false);
        Telemetry.InitEnded();

        // Logged before the loops start, so the flush before the first /next writes it out.
        Log.Started(_logger, Endpoint.BaseUrl, Options.InvokeMode.ToString(), Concurrency);
        if (ThreadPoolMinimum.For(Concurrency, _settings.MinThreads, Environment.ProcessorCount) is { } threads && ThreadPoolMinimum.Raise(threads))
        {
            Log.ThreadPoolMinimumRaised(_logger, threads, Concurrency);
        }

        var loops = _clients.Select(client => new InvocationLoop<TContext>(this, application, client, _logger)).ToArray();
        _abortForShutdown = [.. loops.Select(loop => (Func<bool>)loop.AbortForShutdown)];
        _loops = [.. loops.Select(RunLoopAsync)];
        _settings.InitCompleted = true;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_disposed)
        {
            // A host may stop a server it already disposed (for example after a failed start): nothing is left to stop.
            return;
        }

        // No more events: a wait for /next ends at once; invocations in flight may finish until the host's timeout.
        _stopRequested = true;
        await _stopping.CancelAsync().ConfigureAwait(false);
        var loops = Task.WhenAll(_loops);
        try
        {
            await loops.WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        // The shutdown timeout ran out: what is still running is aborted as Kestrel aborts its connections. A response
        // that started ends with the error trailers (its client must not take a cut stream for a complete one).
        var aborted = _abortForShutdown.Count(abort => abort());
        if (aborted > 0)
        {
            Log.AbortingAtShutdown(_logger, aborted);
        }

        FlushLogs();
        try
        {
            await loops.WaitAsync(ShutdownAbortGrace, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.AbandonedAtShutdown(_logger, _loops.Count(loop => !loop.IsCompleted), ShutdownAbortGrace.TotalMilliseconds);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stopping.Cancel();
        _stopping.Dispose();
        Telemetry.Dispose();
        foreach (var client in _clients)
        {
            client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Inside Lambda, replaces the generic host's default shutdown timeout (30 s) with <see cref="LambdaShutdownTimeout"/>.</summary>
    internal static void UseLambdaShutdownTimeout(HostOptions options)
    {
        if (options.ShutdownTimeout == DefaultHostShutdownTimeout)
        {
            options.ShutdownTimeout = LambdaShutdownTimeout;
        }
    }

    /// <summary>
    /// Waits (at most 1 s) until everything logged so far through the Lambda logger is on standard output: called before
    /// each <c>/next</c> when one invocation runs at a time (after <c>OnFreezingAsync</c>), since Lambda may freeze the
    /// process as soon as it asks, and before a SnapStart snapshot.
    /// </summary>
    internal void FlushLogs() => _lambdaLogger?.Flush(LogFlushTimeout);

    /// <summary>Runs a lifecycle hook; a failure is logged and the loop goes on.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask ObserveAsync(string stage, Func<CancellationToken, ValueTask> hook, CancellationToken cancellationToken)
    {
        try
        {
            await hook(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // An observer must not take the function down between invocations.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.ObserverFailed(_logger, stage, ex);
        }
    }

    /// <summary>Logs, once per process, that events of a source that cannot stream are answered buffered.</summary>
    internal void WarnCannotStream(LambdaEventSource source)
    {
        if (Interlocked.Exchange(ref _warnedCannotStream, 1) == 0)
        {
            Log.SourceCannotStream(_logger, source);
        }
    }

    /// <summary>Logs, once per process, that a <c>Lambda-Runtime-Invocation-Id</c> that is not a printable token was ignored.</summary>
    internal void WarnInvocationIdIgnored(string requestId)
    {
        if (Interlocked.Exchange(ref _warnedInvocationIdIgnored, 1) == 0)
        {
            Log.InvocationIdIgnored(_logger, requestId);
        }
    }

    private async Task InitializeAsync(RuntimeApiClient client, CancellationToken cancellationToken)
    {
        var snapStart = string.Equals(_settings.InitializationType, "snap-start", StringComparison.OrdinalIgnoreCase);
        try
        {
            await Lifecycle.InitAsync(cancellationToken).ConfigureAwait(false);
            if (snapStart)
            {
                await Lifecycle.BeforeSnapshotAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not RuntimeApiFatalException)
        {
            await ReportInitFailureAsync(ex, client.PostInitErrorAsync, cancellationToken).ConfigureAwait(false);
            throw;
        }

        if (!snapStart)
        {
            return;
        }

        FlushLogs();
        var restored = await client.RestoreNextAsync(cancellationToken).ConfigureAwait(false);
        if (!restored.IsSuccess)
        {
            throw new RuntimeApiFatalException($"GET /runtime/restore/next answered {restored}.");
        }

        Telemetry.Restored();

        try
        {
            await Lifecycle.AfterRestoreAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not RuntimeApiFatalException)
        {
            await ReportInitFailureAsync(ex, client.PostRestoreErrorAsync, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    private async Task ReportInitFailureAsync(Exception exception, Func<LambdaError, CancellationToken, Task<RuntimeApiReply>> report, CancellationToken cancellationToken)
    {
        Log.InitFailed(_logger, exception);
        _settings.InitErrorReported = true;
        var reply = await report(LambdaError.FromException(exception, includeDetails: true, "The init phase failed."), cancellationToken).ConfigureAwait(false);
        if (!reply.IsSuccess)
        {
            Log.UnexpectedReply(_logger, "the init error", reply.ToString());
        }
    }

    private async Task RunLoopAsync<TContext>(InvocationLoop<TContext> loop)
        where TContext : notnull
    {
        await Task.Yield();
        using var ownedLoop = loop;
        try
        {
            await loop.RunAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (_stopRequested)
        {
            // The host is stopping: an invocation abandoned at shutdown loses its connection when the server is disposed.
            Log.LoopEndedAtShutdown(_logger, ex);
        }
#pragma warning disable CA1031 // Any failure of the loop itself means the environment is unusable: exit non-zero.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.RuntimeApiFatal(_logger, ex);
            if (_settings.SetProcessExitCode)
            {
                Environment.ExitCode = 1;
            }

            await _stopping.CancelAsync().ConfigureAwait(false);
            _lifetime.StopApplication();
        }
    }
}
