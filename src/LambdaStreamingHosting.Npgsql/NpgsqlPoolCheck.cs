using System.Diagnostics;
using Npgsql;

namespace LambdaStreamingHosting.Npgsql;

/// <summary>What a check of the idle connections of a pool found.</summary>
/// <param name="Answered">Connections that answered the round trip in time: kept in the pool.</param>
/// <param name="Closed">Connections the server had closed (a FATAL message, a FIN or a RST): discarded.</param>
/// <param name="Silent">Connections that did not answer in time: given up, and the pool cleared.</param>
/// <param name="Elapsed">How long the check took.</param>
internal readonly record struct PoolCheckResult(int Answered, int Closed, int Silent, TimeSpan Elapsed)
{
    public bool ReplacedAny => Closed + Silent > 0;
}

/// <summary>
/// Checks every idle connection of an Npgsql pool with one round trip each, so that none the server or the network cut
/// while the process was frozen is handed to the app. Only public Npgsql API is used:
/// <list type="bullet">
/// <item>Npgsql hands out idle connections first-in first-out, so renting one, checking it and returning it walks the
/// idle connections in turn; the walk ends when a connection comes round a second time (same server and backend
/// process id). Connections in use are never rented, so never touched.</item>
/// <item>The round trip is an empty statement (<c>;</c>): the server answers with an empty-query response, nothing
/// runs. A connection the server closed fails it at once, because the server's FATAL message (57P01 for a terminated
/// backend or a shutdown), its FIN or a RST is already in the socket; Npgsql then discards the connection (and, for
/// such errors, empties the pool itself). Npgsql's <c>Wait(1)</c> would read the same message without writing, but a
/// healthy connection pays the whole wait (1–5 ms measured), several times a loopback round trip (0.2–0.3 ms); and only
/// a round trip can find a silent path.</item>
/// <item>A connection that does not answer within the timeout is given up: the check stops waiting, leaves the
/// statement to Npgsql (its own command timeout breaks the connection later, in the background), and clears the pool,
/// since a silent path seldom cuts one connection alone. The app then opens a fresh connection.</item>
/// </list>
/// The check never throws and never runs a command of the app: only the choice of connection changes.
/// </summary>
internal static class NpgsqlPoolCheck
{
    /// <summary>The round trip: an empty statement.</summary>
    internal const string RoundTripStatement = ";";

    private enum Outcome
    {
        Answered,
        Closed,
        Silent,
    }

    /// <summary>Checks the pool's idle connections, one after another.</summary>
    /// <param name="createConnection">A new, closed connection that draws from the pool when opened.</param>
    /// <param name="clearPool">Closes every idle connection of the pool (connections in use when they are returned).</param>
    /// <param name="timeout">How long one connection may take to answer (and a new connection to open).</param>
    /// <param name="maxPoolSize">The pool's maximum size: the walk rents at most one more than that.</param>
    public static async Task<PoolCheckResult> CheckIdleConnectionsAsync(Func<NpgsqlConnection> createConnection, Action clearPool, TimeSpan timeout, int maxPoolSize)
    {
        var started = Stopwatch.GetTimestamp();
        var seen = new HashSet<(string Server, int BackendProcessId)>();
        int answered = 0, closed = 0, silent = 0;
        for (var rented = 0; rented <= maxPoolSize; rented++)
        {
            var connection = createConnection();
            var opening = connection.OpenAsync();
            try
            {
                // Renting an idle connection completes at once; only when none is left does Npgsql open a new one, which
                // the app needs next anyway. If that takes too long, the app's own open waits for the server instead.
                await opening.WaitAsync(timeout).ConfigureAwait(false);
            }
            catch (Exception)
            {
                _ = DisposeWhenDoneAsync(opening, null, connection);
                break;
            }

            if (!seen.Add((connection.DataSource, connection.ProcessID)))
            {
                // Every idle connection has been checked and returned.
                await connection.DisposeAsync().ConfigureAwait(false);
                break;
            }

            switch (await RoundTripAsync(connection, timeout).ConfigureAwait(false))
            {
                case Outcome.Answered:
                    answered++;
                    break;
                case Outcome.Closed:
                    closed++;
                    break;
                default:
                    silent++;
                    clearPool();
                    return new PoolCheckResult(answered, closed, silent, Stopwatch.GetElapsedTime(started));
            }
        }

        return new PoolCheckResult(answered, closed, silent, Stopwatch.GetElapsedTime(started));
    }

    private static async Task<Outcome> RoundTripAsync(NpgsqlConnection connection, TimeSpan timeout)
    {
        var command = new NpgsqlCommand(RoundTripStatement, connection)
        {
            // Npgsql's own limit, which ends an abandoned round trip (and breaks its connection) after the check gave up.
            CommandTimeout = (int)Math.Ceiling(timeout.TotalSeconds) + 1,
        };
        var roundTrip = command.ExecuteNonQueryAsync();
        try
        {
            await roundTrip.WaitAsync(timeout).ConfigureAwait(false);
            await command.DisposeAsync().ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false); // back to the pool
            return Outcome.Answered;
        }
        catch (TimeoutException) when (!roundTrip.IsCompleted)
        {
            _ = DisposeWhenDoneAsync(roundTrip, command, connection);
            return Outcome.Silent;
        }
        catch (Exception)
        {
            // Broken: closing discards it. A connection that failed the statement for another reason but is still open
            // goes back to the pool, as after any failed command.
            await command.DisposeAsync().ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
            return Outcome.Closed;
        }
    }

    private static async Task DisposeWhenDoneAsync(Task operation, NpgsqlCommand? command, NpgsqlConnection connection)
    {
        try
        {
            await operation.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Expected: the connection was given up.
        }

        if (command is not null)
        {
            await command.DisposeAsync().ConfigureAwait(false);
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }
}
