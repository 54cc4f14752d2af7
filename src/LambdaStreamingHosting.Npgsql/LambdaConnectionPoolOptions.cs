namespace LambdaStreamingHosting.Npgsql;

/// <summary>
/// Options for keeping a database connection pool warm and safe across Lambda freezes, shared by
/// <c>AddLambdaNpgsqlDataSourceLifecycle()</c> and <c>AddLambdaDbContextLifecycle&lt;TContext&gt;()</c>. Bound from the
/// <c>LambdaStreaming:Database</c> configuration section (for example the environment variable
/// <c>LambdaStreaming__Database__Enabled=false</c>), then from the delegate given to the registration; validated when the
/// host starts.
/// </summary>
public sealed class LambdaConnectionPoolOptions
{
    /// <summary>The configuration section the options are bound from: <c>LambdaStreaming:Database</c>.</summary>
    public const string ConfigurationSectionName = "LambdaStreaming:Database";

    /// <summary>
    /// Whether the integration acts at all: warm start, the check after a thaw, clearing, and (EF Core) the retry of a
    /// failed connection open. Default: <see langword="true"/>.
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
    /// How long the check after a thaw waits for a pooled connection to answer its one round trip before it gives the
    /// connection up as cut (a silent network path: no FIN, no answer) and lets the request open a fresh one. A
    /// connection the server closed is found at once, without waiting. Default: 1 second.
    /// </summary>
    public TimeSpan ThawCheckTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Idle gap between two invocations from which the idle pooled connections are closed outright instead of checked:
    /// after so long they are probably cut (a NAT gateway silently drops connections idle for 350 s), and one new
    /// connection is cheaper than waiting <see cref="ThawCheckTimeout"/> on a silent one. Below it, every idle
    /// connection is checked with one round trip on the first use after the thaw and kept when it answers.
    /// <see cref="TimeSpan.Zero"/> closes them after every invocation. Default: 5 minutes.
    /// </summary>
    public TimeSpan ThawClearThreshold { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long warm start may take during the init phase (Lambda allows 10 seconds for all of init). When the
    /// connections cannot be opened in time the init phase goes on without them and a warning is logged: requests
    /// then connect on first use. Default: 3 seconds.
    /// </summary>
    public TimeSpan WarmUpTimeout { get; set; } = TimeSpan.FromSeconds(3);
}
