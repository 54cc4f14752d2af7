using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// A front-door connection whose abort is a graceful cut: instead of a TCP reset (which makes the client's kernel
/// drop bytes it has not read yet), everything already written is sent, then the connection is closed without the
/// final chunk. The client reads the whole truncated body, then gets an <see cref="IOException"/>: truncation is
/// visible, and nothing forwarded is lost.
/// </summary>
internal sealed class GracefulCutConnection(ConnectionContext inner) : ConnectionContext
{
    public override string ConnectionId
    {
        get => inner.ConnectionId;
        set => inner.ConnectionId = value;
    }

    public override IFeatureCollection Features => inner.Features;

    public override IDictionary<object, object?> Items
    {
        get => inner.Items;
        set => inner.Items = value;
    }

    public override IDuplexPipe Transport
    {
        get => inner.Transport;
        set => inner.Transport = value;
    }

    public override CancellationToken ConnectionClosed
    {
        get => inner.ConnectionClosed;
        set => inner.ConnectionClosed = value;
    }

    public override EndPoint? LocalEndPoint
    {
        get => inner.LocalEndPoint;
        set => inner.LocalEndPoint = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        get => inner.RemoteEndPoint;
        set => inner.RemoteEndPoint = value;
    }

    /// <summary>Ends the output after what was written: the transport sends it, then closes with a FIN.</summary>
    public override void Abort(ConnectionAbortedException abortReason) => inner.Transport.Output.Complete();

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>Installs the wrapper on a listener.</summary>
    public static void Use(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions listen) =>
        listen.Use(next => connection => next(new GracefulCutConnection(connection)));
}
