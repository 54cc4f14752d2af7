using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace LambdaStreamingHosting.EntityFrameworkCore.Tests;

/// <summary>
/// A throwaway PostgreSQL cluster for the tests: <c>initdb</c> into a fresh folder, <c>pg_ctl start</c> on a free
/// loopback port, <c>pg_ctl stop</c> and delete on dispose. As root (CI) the server runs as the <c>postgres</c> user,
/// which owns the data folder. Binaries come from <c>pg_config --bindir</c>.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);
    private string _binDirectory = "";
    private string _directory = "";

    /// <summary>The TCP port the server listens on (127.0.0.1).</summary>
    public int Port { get; private set; }

    private string DataDirectory => Path.Combine(_directory, "data");

    public async Task InitializeAsync()
    {
        _binDirectory = await FindBinDirectoryAsync();
        // Created by the user the server runs as, so that user owns it (initdb requires that).
        _directory = (await RunAsServerUserAsync("mktemp", "-d", "/tmp/lsh-efcore-pg-XXXXXX")).Trim();
        await RunAsServerUserAsync(Binary("initdb"), "-D", DataDirectory, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C");
        for (var attempt = 1; ; attempt++)
        {
            Port = FreePort();
            var settings = $"-p {Port} -k {_directory} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200";
            try
            {
                await RunAsServerUserAsync(Binary("pg_ctl"), "start", "-w", "-t", "60", "-D", DataDirectory, "-l", Path.Combine(_directory, "server.log"), "-o", settings);
                break;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                // Another process took the port between the probe and the start: try another one.
            }
        }
    }

    public async Task DisposeAsync()
    {
        if (_directory.Length == 0)
        {
            return;
        }

        try
        {
            await RunAsServerUserAsync(Binary("pg_ctl"), "stop", "-m", "immediate", "-w", "-D", DataDirectory);
        }
        finally
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    /// <summary>A connection string to the server, pooled under its own <paramref name="applicationName"/>.</summary>
    public string ConnectionString(string applicationName, int? port = null) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = port ?? Port,
        Username = "postgres",
        Database = "postgres",
        ApplicationName = applicationName,
        Timeout = 5,
        CommandTimeout = 5,
        // One TCP connection per open: while negotiating SSL or GSS encryption Npgsql may reconnect by itself after a
        // failed attempt.
        SslMode = SslMode.Disable,
        GssEncryptionMode = GssEncryptionMode.Disable,
    }.ConnectionString;

    /// <summary>Creates a database and returns its name.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await ExecuteAsync($"CREATE DATABASE \"{name}\"");
        return name;
    }

    /// <summary>The backend process ids of the server connections opened under <paramref name="applicationName"/>.</summary>
    public async Task<IReadOnlyList<int>> BackendPidsAsync(string applicationName)
    {
        await using var connection = await OpenAdminConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid", connection);
        command.Parameters.AddWithValue(applicationName);
        var pids = new List<int>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            pids.Add(reader.GetInt32(0));
        }

        return pids;
    }

    /// <summary>
    /// The server connections opened under <paramref name="applicationName"/>, each as its backend process id and start
    /// time: a connection the server saw anew has a pid or start time not seen before.
    /// </summary>
    public async Task<IReadOnlySet<(int Pid, DateTime Started)>> BackendsAsync(string applicationName)
    {
        await using var connection = await OpenAdminConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT pid, backend_start FROM pg_stat_activity WHERE application_name = $1", connection);
        command.Parameters.AddWithValue(applicationName);
        var backends = new HashSet<(int, DateTime)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            backends.Add((reader.GetInt32(0), reader.GetDateTime(1)));
        }

        return backends;
    }

    /// <summary>
    /// Restarts the server (<c>pg_ctl restart -m fast</c>, same port and settings): every client connection receives
    /// FATAL 57P01 and is closed; new connections work once this returns.
    /// </summary>
    public Task RestartAsync() =>
        RunAsServerUserAsync(Binary("pg_ctl"), "restart", "-m", "fast", "-w", "-t", "60", "-D", DataDirectory, "-l", Path.Combine(_directory, "server.log"));

    /// <summary>Ends every server connection opened under <paramref name="applicationName"/> (SQLSTATE 57P01 for its client).</summary>
    public async Task<int> TerminateBackendsAsync(string applicationName)
    {
        await using var connection = await OpenAdminConnectionAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*)::int FROM (SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1) AS t", connection);
        command.Parameters.AddWithValue(applicationName);
        return (int)(await command.ExecuteScalarAsync())!;
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = await OpenAdminConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<NpgsqlConnection> OpenAdminConnectionAsync()
    {
        // Unpooled, so the admin's own connections never show up as leftovers anywhere.
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString("lsh-admin")) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private string Binary(string name) => Path.Combine(_binDirectory, name);

    private static async Task<string> FindBinDirectoryAsync()
    {
        try
        {
            var fromPgConfig = (await RunAsync("pg_config", "--bindir")).Trim();
            if (File.Exists(Path.Combine(fromPgConfig, "initdb")))
            {
                return fromPgConfig;
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No pg_config on the PATH: look where Debian and Ubuntu install the server.
        }

        return Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).Order().LastOrDefault()
                ?? throw MissingServer()
            : throw MissingServer();

        static InvalidOperationException MissingServer() => new(
            "These tests start their own PostgreSQL server and need its binaries (initdb, pg_ctl): apt-get install postgresql-15 (.ci/run does).");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Task<string> RunAsServerUserAsync(string fileName, params string[] arguments) =>
        Environment.UserName == "root"
            ? RunAsync("runuser", ["-u", "postgres", "--", fileName, .. arguments])
            : RunAsync(fileName, arguments);

    private static async Task<string> RunAsync(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = "/tmp",
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await error}{await output}");
        }

        return await output;
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresTests : ICollectionFixture<PostgresServer>
{
    public const string Name = "PostgreSQL";
}
