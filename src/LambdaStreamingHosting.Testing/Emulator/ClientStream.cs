using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// Forwards a streamed answer's body to the client as it arrives: write, flush, count, optionally paced. A client that
/// goes away does not stop the function: the rest is read and dropped, as Lambda does.
/// </summary>
internal sealed class ClientStream(Invocation invocation, BandwidthShaper? shaper)
{
    private const int PacedPieceBytes = 16 * 1024;
    private bool _gone;

    private HttpResponse Response => invocation.Client.Response;

    /// <summary>Sends the status and headers now.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Response.StartAsync(cancellationToken);
            await Response.BodyWriter.FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (IsClientGone(ex, cancellationToken))
        {
            MarkGone();
        }
    }

    public async Task WriteAsync(ReadOnlySequence<byte> data, CancellationToken cancellationToken)
    {
        foreach (var segment in data)
        {
            var rest = segment;
            while (!rest.IsEmpty && !_gone)
            {
                var piece = shaper is null ? rest : rest[..Math.Min(rest.Length, PacedPieceBytes)];
                rest = rest[piece.Length..];
                if (shaper is not null)
                {
                    await shaper.WaitAsync(piece.Length, cancellationToken);
                }

                try
                {
                    var result = await Response.BodyWriter.WriteAsync(piece, cancellationToken);
                    if (result.IsCompleted || invocation.Client.RequestAborted.IsCancellationRequested)
                    {
                        MarkGone();
                    }
                    else
                    {
                        invocation.CountResponseBytes(piece.Length);
                    }
                }
                catch (Exception ex) when (IsClientGone(ex, cancellationToken))
                {
                    MarkGone();
                }
                catch (InvalidOperationException ex)
                {
                    // e.g. a body after status 204 or 304: the client cannot get it; the rest is dropped.
                    invocation.Violation($"The response body could not be sent to the client: {ex.Message}");
                    _gone = true;
                }
            }
        }
    }

    private void MarkGone()
    {
        _gone = true;
        invocation.ClientDisconnected = true;
    }

    private static bool IsClientGone(Exception ex, CancellationToken cancellationToken) =>
        ex is IOException or ConnectionAbortedException or ConnectionResetException or ObjectDisposedException ||
        (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);
}
