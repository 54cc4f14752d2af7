using System.Diagnostics.Metrics;
using LambdaStreamingHosting.Lifecycle;
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
/// loop per allowed concurrent invocation. A broken Runtime API stops the host with exit code 1.
/// </summary>
internal sealed class LambdaServer : IServer
{
    private readonly LambdaServerSettings _settings;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<RuntimeApiClient> _clients = [];
    private Task[] _loops = [];
    private int _warnedCannotStream;
    private bool _disposed;

    public LambdaServer(
        IOptions<LambdaStreamingOptions> options,
        LambdaServerSettings settings,
        IEnumerable<ILambdaLifecycleObserver> observers,
        IHostApplicationLifetime lifetime,
        ILoggerFactory loggerFactory,
        IMeterFactory? meterFactory = null)
    {
        Options = options.Value;
        _settings = settings;
        _lifetime = lifetime;
        _logger = loggerFactory.CreateLogger("LambdaStreamingHosting.Server");
        Lifecycle = new LifecycleNotifier(observers);
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

    internal LifecycleNotifier Lifecycle { get; }

    internal InvocationTelemetry Telemetry { get; }

    internal TimeProvider Time { get; } = TimeProvider.System;

    public async Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        for (var i = 0; i < Concurrency; i++)
        {
            _clients.Add(new RuntimeApiClient(Endpoint));
        }

        await InitializeAsync(_clients[0], cancellationToken).ConfigureAwait(false);
        Telemetry.InitEnded();
        _loops = [.. _clients.Select(client => RunLoopAsync(new InvocationLoop<TContext>(this, application, client, _logger)))];
        _settings.InitCompleted = true;
        Log.Started(_logger, Endpoint.BaseUrl, Options.InvokeMode.ToString(), Concurrency);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_disposed)
        {
            // A host may stop a server it already disposed (for example after a failed start): nothing is left to stop.
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            // Invocations in flight finish; waiting for /next ends at once.
            await Task.WhenAll(_loops).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
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

    /// <summary>Runs a lifecycle hook; a failure is logged and the loop goes on.</summary>
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

        var restored = await client.RestoreNextAsync(cancellationToken).ConfigureAwait(false);
        if (!restored.IsSuccess)
        {
            throw new RuntimeApiFatalException($"GET /runtime/restore/next answered {restored}.");
        }

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
