using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// Reports a host that crashes before its first <c>/next</c> (a failing hosted service, invalid options, a DI
/// error) to <c>/runtime/init/error</c>, so Lambda shows the cause instead of a bare crash; the process still exits
/// non-zero. Registered only when the process really runs under Lambda.
/// </summary>
internal static class InitErrorReporter
{
    private static readonly TimeSpan ReportTimeout = TimeSpan.FromSeconds(2);
    private static int _registered;

    public static void Register(LambdaServerSettings settings)
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1)
        {
            return;
        }

        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            if (settings.Init.IsCompleted || e.ExceptionObject is not Exception exception ||
                !RuntimeApiEndpoint.TryParse(settings.RuntimeApiEndpoint, out var endpoint, out string? _) ||
                !settings.Init.TryClaimErrorReport())
            {
                return;
            }

            try
            {
                using var timeout = new CancellationTokenSource(ReportTimeout);
                var client = new RuntimeApiClient(endpoint, reuseConnections: false);
                client.PostInitErrorAsync(LambdaError.FromException(exception, includeDetails: true, "The host failed to start."), timeout.Token)
                    .WaitAsync(timeout.Token).GetAwaiter().GetResult();
            }
#pragma warning disable CA1031 // The process is crashing anyway; the report is best effort.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        };
    }
}
