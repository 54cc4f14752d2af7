using System.Diagnostics;
using System.Globalization;
using LambdaStreamingHosting.Lifecycle;
using LambdaStreamingHosting.Npgsql;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// What the database thaw check costs the first request after a 1 s freeze (idle gap), against a throwaway local
/// PostgreSQL cluster (or <c>LSH_BENCH_POSTGRES</c>, a connection string): the data source line's hooks run as the
/// Lambda server runs them, then the request's query (<c>SELECT pg_backend_pid()</c>) on a pool of one warm connection.
/// Scenarios: no integration (the bare query), the check on a healthy connection, the check on a connection whose
/// backend was terminated during the gap, and clearing after every gap (<c>ThawClearThreshold = 0</c>, a new
/// connection each time). Run with <c>--pool-check</c>; prints minimum, median and 90th percentile per scenario.
/// </summary>
internal static class PoolCheckMeasurement
{
    private const int Samples = 40;
    private static readonly TimeSpan Freeze = TimeSpan.FromSeconds(1);

    public static async Task RunAsync()
    {
        await using var cluster = await ThrowawayCluster.StartAsync();
        Console.WriteLine($"PostgreSQL at {cluster.Host}; {Samples} samples per scenario, each after a {Freeze.TotalSeconds} s idle gap; times of the first request (hooks + open + query).");
        await MeasureAsync(cluster, "no integration, healthy connection", enabled: true, clear: false, terminate: false, check: false);
        await MeasureAsync(cluster, "check, healthy connection (kept)", enabled: true, clear: false, terminate: false, check: true);
        await MeasureAsync(cluster, "check, terminated connection (replaced)", enabled: true, clear: false, terminate: true, check: true);
        await MeasureAsync(cluster, "clear after every gap (new connection)", enabled: true, clear: true, terminate: false, check: true);
    }

    private static async Task MeasureAsync(ThrowawayCluster cluster, string scenario, bool enabled, bool clear, bool terminate, bool check)
    {
        var applicationName = $"lsh-bench-{Guid.NewGuid():N}";
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddSingleton(NpgsqlDataSource.Create(cluster.ConnectionString(applicationName)));
        services.AddLambdaNpgsqlDataSourceLifecycle(o => (o.Enabled, o.ThawClearThreshold) = (enabled && check, clear ? TimeSpan.Zero : TimeSpan.FromMinutes(5)));
        await using var provider = services.BuildServiceProvider();
        var observers = provider.GetServices<ILambdaLifecycleObserver>().ToArray();
        var dataSource = provider.GetRequiredService<NpgsqlDataSource>();
        await using (var warm = await dataSource.OpenConnectionAsync())
        {
            // One warm connection, as after init.
        }

        var times = new List<double>();
        for (var i = -3; i < Samples; i++)
        {
            foreach (var observer in observers)
            {
                await observer.OnFreezingAsync(default);
            }

            var gap = Stopwatch.StartNew();
            if (terminate)
            {
                await cluster.TerminateAsync(applicationName);
            }

            await Task.Delay(Freeze - gap.Elapsed); // the freeze

            var request = Stopwatch.StartNew();
            foreach (var observer in observers)
            {
                await observer.OnThawAsync(gap.Elapsed, default);
            }

            await using (var command = dataSource.CreateCommand("SELECT pg_backend_pid()"))
            {
                await command.ExecuteScalarAsync();
            }

            if (i >= 0)
            {
                times.Add(request.Elapsed.TotalMilliseconds);
            }
        }

        times.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{scenario,-42} min {times[0],7:0.000} ms   median {times[times.Count / 2],7:0.000} ms   p90 {times[(int)(times.Count * 0.9)],7:0.000} ms"));
    }

    /// <summary>A PostgreSQL cluster in a temporary folder (initdb, pg_ctl; as the postgres user when run as root).</summary>
    private sealed class ThrowawayCluster : IAsyncDisposable
    {
        private readonly string? _directory;
        private readonly string _baseConnectionString;

        private ThrowawayCluster(string? directory, string baseConnectionString, string host)
        {
            _directory = directory;
            _baseConnectionString = baseConnectionString;
            Host = host;
        }

        public string Host { get; }

        public static async Task<ThrowawayCluster> StartAsync()
        {
            if (Environment.GetEnvironmentVariable("LSH_BENCH_POSTGRES") is { Length: > 0 } given)
            {
                return new ThrowawayCluster(null, given, new NpgsqlConnectionStringBuilder(given).Host ?? "?");
            }

            var bin = (await RunAsync("pg_config", "--bindir")).Trim();
            var directory = (await RunAsServerUserAsync("mktemp", "-d", "/tmp/lsh-bench-pg-XXXXXX")).Trim();
            await RunAsServerUserAsync(Path.Combine(bin, "initdb"), "-D", Path.Combine(directory, "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C");
            using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
            {
                probe.Start();
                var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
                probe.Stop();
                await RunAsServerUserAsync(Path.Combine(bin, "pg_ctl"), "start", "-w", "-D", Path.Combine(directory, "data"), "-l", Path.Combine(directory, "log"),
                    "-o", $"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off");
                var connectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;SSL Mode=Disable";
                return new ThrowawayCluster(directory, connectionString, $"127.0.0.1:{port} (throwaway, loopback)");
            }
        }

        public string ConnectionString(string applicationName) =>
            new NpgsqlConnectionStringBuilder(_baseConnectionString) { ApplicationName = applicationName }.ConnectionString;

        public async Task TerminateAsync(string applicationName)
        {
            await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString("lsh-bench-admin")) { Pooling = false }.ConnectionString);
            await admin.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = $1", admin);
            command.Parameters.AddWithValue(applicationName);
            await command.ExecuteScalarAsync();
        }

        public async ValueTask DisposeAsync()
        {
            if (_directory is not null)
            {
                var bin = (await RunAsync("pg_config", "--bindir")).Trim();
                await RunAsServerUserAsync(Path.Combine(bin, "pg_ctl"), "stop", "-m", "immediate", "-w", "-D", Path.Combine(_directory, "data"));
                Directory.Delete(_directory, recursive: true);
            }
        }

        private static Task<string> RunAsServerUserAsync(string fileName, params string[] arguments) =>
            Environment.UserName == "root" ? RunAsync("runuser", ["-u", "postgres", "--", fileName, .. arguments]) : RunAsync(fileName, arguments);

        private static async Task<string> RunAsync(string fileName, params string[] arguments)
        {
            var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/tmp" };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return process.ExitCode == 0 ? await output : throw new InvalidOperationException($"{fileName} failed: {await error}");
        }
    }
}
