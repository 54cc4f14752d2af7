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
/// instead of a socket. Start-up runs the init hooks, the warm-up requests and SnapStart's snapshot/restore when they
/// apply, then starts one invocation loop per allowed concurrent invocation. A broken Runtime API stops the host (with
/// exit code 1 inside Lambda). Stopping (the host got <c>SIGTERM</c>, Lambda's shutdown phase) takes no more events;
/// invocations in flight may finish until the host's shutdown timeout, then they are aborted, the logs flushed, and
/// they are given <see cref="ShutdownAbortGrace"/> to end.
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
    private readonly LambdaServerSettings _settings;
    private readonly ServiceContext _context;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<RuntimeApiClient> _clients = [];
    private Task[] _loops = [];
    private Func<bool>[] _abortForShutdown = [];
    private volatile bool _stopRequested;
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
        Options = options.Value;
        _settings = settings;
        _lifetime = lifetime;
        _logger = loggerFactory.CreateLogger("LambdaStreamingHosting.Server");
        Endpoint = RuntimeApiEndpoint.Parse(settings.EndpointFor(Options));
        Concurrency = Options.MaxConcurrency ?? settings.MaxConcurrency ?? 1;
        _context = new ServiceContext(
            Options,
            settings.Time,
            new InvocationTelemetry(meterFactory, settings.Region),
            new LifecycleNotifier(observers, _logger),
            _logger,
            lambdaLogger,
            Concurrency,
            settings.SetTraceIdEnvironmentVariable);
        var addresses = new ServerAddressesFeature();
        addresses.Addresses.Add(Endpoint.BaseUrl);
        Features.Set<IServerAddressesFeature>(addresses);
    }

    public IFeatureCollection Features { get; } = new FeatureCollection();

    public LambdaStreamingOptions Options { get; }

    public RuntimeApiEndpoint Endpoint { get; }

    /// <summary>How many invocation loops run.</summary>
    public int Concurrency { get; }

    public async Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        for (var i = 0; i < Concurrency; i++)
        {
            _clients.Add(new RuntimeApiClient(Endpoint));
        }

        await InitializeAsync(_clients[0], application, cancellationToken).ConfigureAwait(false);
        _context.Telemetry.InitEnded();

        // Logged before the loops start, so the flush before the first /next writes it out.
        Log.Started(_logger, Endpoint.BaseUrl, Options.InvokeMode.ToString(), Concurrency);
        if (ThreadPoolMinimum.For(Concurrency, _settings.MinThreads, Environment.ProcessorCount) is { } threads && ThreadPoolMinimum.Raise(threads))
        {
            Log.ThreadPoolMinimumRaised(_logger, threads, Concurrency);
        }

        var loops = _clients.Select(client => new InvocationLoop<TContext>(_context, application, client)).ToArray();
        _abortForShutdown = [.. loops.Select(loop => (Func<bool>)loop.AbortForShutdown)];
        _loops = [.. loops.Select(RunLoopAsync)];
        _settings.Init.Complete();
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

        _context.FlushLogs();
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
        _context.Telemetry.Dispose();
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

    private async Task InitializeAsync<TContext>(RuntimeApiClient client, IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        var snapStart = string.Equals(_settings.InitializationType, "snap-start", StringComparison.OrdinalIgnoreCase);
        try
        {
            await _context.Lifecycle.InitAsync(cancellationToken).ConfigureAwait(false);
            if (snapStart)
            {
                // The warm-ups first: the before-snapshot hooks then close what they opened (pooled connections).
                await WarmUpRunner.RunAsync(_context, application, "before the snapshot", cancellationToken).ConfigureAwait(false);
                await _context.Lifecycle.BeforeSnapshotAsync(cancellationToken).ConfigureAwait(false);
            }
            else if (Options.WarmUp.DuringInit)
            {
                await WarmUpRunner.RunAsync(_context, application, "during init", cancellationToken).ConfigureAwait(false);
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

        _context.FlushLogs();
        var restored = await client.RestoreNextAsync(cancellationToken).ConfigureAwait(false);
        if (!restored.IsSuccess)
        {
            throw new RuntimeApiFatalException($"GET /runtime/restore/next answered {restored}.");
        }

        _context.Telemetry.Restored();

        try
        {
            await _context.Lifecycle.AfterRestoreAsync(cancellationToken).ConfigureAwait(false);
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
        _settings.Init.MarkErrorReported();
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
