using System.Net;
using System.Net.Sockets;

namespace LambdaStreamingHosting.EntityFrameworkCore.Tests;

/// <summary>
/// A loopback TCP relay in front of a server, to break the network path the way a NAT or a dropped route does:
/// <see cref="Silence"/> makes every connection relayed so far go silent (bytes are swallowed in both directions,
/// sockets stay open, nobody sees an error) while new connections work normally; <see cref="ResetNextConnections"/>
/// accepts and immediately resets the next connections, like a proxy that is not ready.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<RelayedConnection> _connections = [];
    private readonly Task _acceptLoop;
    private int _connectionsToReset;
    private int _acceptedConnections;

    public TcpRelay(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The port clients connect to.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>How many connections were accepted so far (reset ones included).</summary>
    public int AcceptedConnections => Volatile.Read(ref _acceptedConnections);

    /// <summary>Silences every connection relayed so far.</summary>
    public void Silence()
    {
        lock (_connections)
        {
            foreach (var connection in _connections)
            {
                connection.Silenced = true;
            }
        }
    }

    /// <summary>Resets the next <paramref name="count"/> accepted connections right away.</summary>
    public void ResetNextConnections(int count) => Interlocked.Exchange(ref _connectionsToReset, count);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        lock (_connections)
        {
            foreach (var connection in _connections)
            {
                connection.Dispose();
            }
        }

        try
        {
            await _acceptLoop;
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }

        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stopping.Token);
            Interlocked.Increment(ref _acceptedConnections);
            if (Interlocked.Decrement(ref _connectionsToReset) >= 0)
            {
                client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stopping.Token);
            var connection = new RelayedConnection(client, server);
            lock (_connections)
            {
                _connections.Add(connection);
            }

            _ = connection.PumpAsync(client, server, _stopping.Token);
            _ = connection.PumpAsync(server, client, _stopping.Token);
        }
    }

    private sealed class RelayedConnection(Socket client, Socket server) : IDisposable
    {
        public volatile bool Silenced;

        public async Task PumpAsync(Socket from, Socket to, CancellationToken cancellationToken)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    var read = await from.ReceiveAsync(buffer, cancellationToken);
                    if (read == 0)
                    {
                        break;
                    }

                    if (!Silenced)
                    {
                        await to.SendAsync(buffer.AsMemory(0, read), cancellationToken);
                    }
                }

                if (!Silenced)
                {
                    to.Shutdown(SocketShutdown.Send);
                }
            }
            catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                if (!Silenced)
                {
                    Dispose();
                }
            }
        }

        public void Dispose()
        {
            client.Dispose();
            server.Dispose();
        }
    }
}
