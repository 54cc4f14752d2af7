using LambdaStreamingHosting.Lifecycle;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LambdaStreamingHosting.Npgsql;

/// <summary>
/// Keeps the pool of the app's <see cref="NpgsqlDataSource"/> warm and safe across the Lambda lifecycle: opens
/// <see cref="LambdaConnectionPoolOptions.WarmConnections"/> during init and after a SnapStart restore, checks the idle
/// connections after a thaw (before the request enters the app: opens from a data source cannot be intercepted),
/// closes them after a long idle gap and before a snapshot.
/// </summary>
internal sealed partial class NpgsqlDataSourceLifecycleObserver : ILambdaLifecycleObserver
{
    /// <summary>The name of the options instance.</summary>
    public const string OptionsName = nameof(NpgsqlDataSource);

    private readonly IServiceProvider _services;
    private readonly IOptionsMonitor<LambdaConnectionPoolOptions> _options;
    private readonly ILogger<NpgsqlDataSourceLifecycleObserver> _logger;
    private readonly NpgsqlPoolThawCheck _thawCheck;
    private NpgsqlDataSource? _dataSource;

    public NpgsqlDataSourceLifecycleObserver(IServiceProvider services, IOptionsMonitor<LambdaConnectionPoolOptions> options, ILogger<NpgsqlDataSourceLifecycleObserver> logger)
    {
        _services = services;
        _options = options;
        _logger = logger;
        _thawCheck = new NpgsqlPoolThawCheck(nameof(NpgsqlDataSource), logger);
    }

    private LambdaConnectionPoolOptions Options => _options.Get(OptionsName);

    private NpgsqlDataSource DataSource => _dataSource ??= _services.GetService<NpgsqlDataSource>() ?? throw new InvalidOperationException(
        "No NpgsqlDataSource is registered: call services.AddNpgsqlDataSource(connectionString) (package Npgsql.DependencyInjection) " +
        "or services.AddSingleton(NpgsqlDataSource.Create(connectionString)) before AddLambdaNpgsqlDataSourceLifecycle().");

    /// <summary>
    /// Whether this observer checks <paramref name="dataSource"/> after every thaw, so an EF Core context running on it
    /// need not check again (<see cref="NpgsqlPoolThawCheck.IsCheckedAtThaw"/>).
    /// </summary>
    public bool Checks(NpgsqlDataSource dataSource) => Options.Enabled && ReferenceEquals(_services.GetService<NpgsqlDataSource>(), dataSource);

    public ValueTask OnInitAsync(CancellationToken cancellationToken) => WarmUpAsync(cancellationToken);

    public async ValueTask OnThawAsync(TimeSpan idleTime, CancellationToken cancellationToken)
    {
        var options = Options;
        if (!options.Enabled)
        {
            return;
        }

        var dataSource = DataSource;
        if (!_thawCheck.OnThaw(idleTime, options, () => Clear(dataSource)))
        {
            await _thawCheck.RunIfDueAsync(dataSource.CreateConnection, dataSource.Clear, options.ThawCheckTimeout)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public ValueTask OnBeforeSnapshotAsync(CancellationToken cancellationToken)
    {
        // Connections captured in a snapshot are dead in every environment restored from it.
        if (Options.Enabled)
        {
            Clear(DataSource);
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask OnAfterRestoreAsync(CancellationToken cancellationToken)
    {
        if (Options.Enabled)
        {
            Clear(DataSource);
            await WarmUpAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Opens the configured number of connections at once, then returns them to the pool, where they stay idle and
    /// open. A database that cannot be reached within <see cref="LambdaConnectionPoolOptions.WarmUpTimeout"/> is logged
    /// and does not fail the init phase; a configuration mistake does.
    /// </summary>
    internal async ValueTask WarmUpAsync(CancellationToken cancellationToken)
    {
        var options = Options;
        if (!options.Enabled || options.WarmConnections == 0)
        {
            return;
        }

        var dataSource = DataSource;
        var settings = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        if (settings.Pooling && settings.MaxPoolSize < options.WarmConnections)
        {
            throw new InvalidOperationException(
                $"{LambdaConnectionPoolOptions.ConfigurationSectionName}:WarmConnections is {options.WarmConnections} but the NpgsqlDataSource's pool holds at most {settings.MaxPoolSize}; " +
                "lower WarmConnections or raise 'Maximum Pool Size' in the connection string.");
        }

        // All connections are held open together, so each is a separate physical connection.
        var opens = Enumerable.Range(0, options.WarmConnections).Select(_ => dataSource.OpenConnectionAsync(cancellationToken).AsTask()).ToArray();
        var opening = Task.WhenAll(opens);
        var releasing = ReleaseAfterAsync(opening, opens);
        try
        {
            // Npgsql may not give up on a silent server before its own connect timeout: stop waiting instead, and let
            // the connections be returned whenever the opens end.
            await opening.WaitAsync(options.WarmUpTimeout, cancellationToken).ConfigureAwait(false);
            await releasing.ConfigureAwait(false);
            LogWarmedUp(_logger, options.WarmConnections);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            LogWarmUpFailed(_logger, options.WarmUpTimeout.TotalSeconds, exception);
        }
    }

    private static async Task ReleaseAfterAsync(Task opening, Task<NpgsqlConnection>[] opens)
    {
        try
        {
            await opening.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Reported by the caller; the connections that did open are returned below.
        }

        foreach (var open in opens.Where(o => o.IsCompletedSuccessfully))
        {
            // Back to the pool, idle and open.
            await open.Result.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static bool Clear(NpgsqlDataSource dataSource)
    {
        dataSource.Clear();
        return true;
    }

    [LoggerMessage(1, LogLevel.Information, "Opened {Count} warm database connection(s) for the NpgsqlDataSource.")]
    private static partial void LogWarmedUp(ILogger logger, int count);

    [LoggerMessage(2, LogLevel.Warning, "Could not open warm database connections for the NpgsqlDataSource (warm-up timeout {TimeoutSeconds} s); requests will connect on first use.")]
    private static partial void LogWarmUpFailed(ILogger logger, double timeoutSeconds, Exception exception);
}
