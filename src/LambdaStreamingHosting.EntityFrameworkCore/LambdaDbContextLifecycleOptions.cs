namespace LambdaStreamingHosting.EntityFrameworkCore;

/// <summary>
/// Options for keeping a <c>DbContext</c>'s connection pool warm and safe across Lambda freezes. Bound from the
/// <c>LambdaStreaming:Database</c> configuration section (for example the environment variable
/// <c>LambdaStreaming__Database__Enabled=false</c>), then from the delegate given to
/// <see cref="Microsoft.Extensions.DependencyInjection.LambdaDbContextLifecycleServiceCollectionExtensions.AddLambdaDbContextLifecycle{TContext}"/>; validated
/// when the host starts.
/// </summary>
public sealed class LambdaDbContextLifecycleOptions
{
    /// <summary>The configuration section the options are bound from: <c>LambdaStreaming:Database</c>.</summary>
    public const string ConfigurationSectionName = "LambdaStreaming:Database";

    /// <summary>
    /// Whether the integration acts at all: warm start, clearing after a freeze and the retry of a failed connection
    /// open. Default: <see langword="true"/>.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How many connections are opened (at once) during the Lambda init phase and left idle in the pool, so the first
    /// requests pay no connect or TLS cost. Also re-opened after a SnapStart restore. Set it to the number of
    /// connections one invocation uses at once; on Lambda Managed Instances, to the number of concurrent invocations.
    /// Must not exceed the pool's maximum size. <c>0</c> turns warm start off. Default: 1.
    /// </summary>
    public int WarmConnections { get; set; } = 1;

    /// <summary>
    /// Idle gap between two invocations after which the idle pooled connections are closed before the next request
    /// runs, because the process was probably frozen for that long and the server, a NAT or a proxy may have cut them
    /// without the process noticing. The next request opens a fresh connection (one connect, no failure, no hang).
    /// <see cref="TimeSpan.Zero"/> clears after every invocation. Default: 5 seconds.
    /// </summary>
    public TimeSpan ThawClearThreshold { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long warm start may take during the init phase (Lambda allows 10 seconds for all of init). When the
    /// connections cannot be opened in time the init phase goes on without them and a warning is logged: requests
    /// then connect on first use. Default: 3 seconds.
    /// </summary>
    public TimeSpan WarmUpTimeout { get; set; } = TimeSpan.FromSeconds(3);
}
