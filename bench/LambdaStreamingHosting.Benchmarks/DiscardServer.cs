using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// A loopback TCP server that accepts one connection and reads and drops everything sent to it, as fast as it comes:
/// the far end of a response stream whose cost is the writer's alone.
/// </summary>
internal sealed class DiscardServer : IAsyncDisposable
{
    private readonly Socket _listener = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly byte[] _buffer = new byte[1024 * 1024];
    private Socket? _connection;
    private Task? _reading;
    private long _bytesReceived;

    public DiscardServer()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(1);
        _reading = DiscardAsync().AsTask();
    }

    /// <summary><c>127.0.0.1:port</c>.</summary>
    public string Endpoint => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}";

    /// <summary>Bytes received so far.</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        _connection?.Dispose();
        if (_reading is { } reading)
        {
            _reading = null;
            await reading.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DiscardAsync()
    {
        var connection = _connection = await _listener.AcceptAsync().ConfigureAwait(false);
        while (true)
        {
            var read = await connection.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }

            Interlocked.Add(ref _bytesReceived, read);
        }
    }
}
