using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// Forwards a streamed answer's body to the client as it arrives: write, count, flush, optionally paced. The caller
/// flushes when no more of the answer is at hand, so what arrives together leaves together: a small answer (prelude,
/// body and end in one piece) reaches the client in one send, with the response's end. A client that goes away does
/// not stop the function: the rest is read and dropped, as Lambda does.
/// </summary>
internal sealed class ClientStream(EmulatedInvocation invocation, BandwidthShaper? shaper)
{
    private const int PacedPieceBytes = 16 * 1024;

    /// <summary>Unflushed bytes that make a write flush at once, so a function that writes fast still feels the client's pace.</summary>
    private const int MaxUnflushedBytes = 64 * 1024;

    private bool _gone;
    private bool _bodyRefused; // the status allows no body (e.g. 204): the head still goes out, the body is dropped
    private bool _pending;
    private long _unflushedBytes;

    private HttpResponse Response => invocation.Client.Response;

    /// <summary>Starts the response: the status and headers go out with the next flush.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Response.StartAsync(cancellationToken);
            _pending = true;
        }
        catch (Exception ex) when (IsClientGone(ex, cancellationToken))
        {
            MarkGone();
        }
    }

    /// <summary>Writes <paramref name="data"/>; it is sent at the next flush (paced data, and a lot of it, at once).</summary>
    public async Task WriteAsync(ReadOnlySequence<byte> data, CancellationToken cancellationToken)
    {
        foreach (var segment in data)
        {
            var rest = segment;
            while (!rest.IsEmpty && !_gone && !_bodyRefused)
            {
                var piece = shaper is null ? rest : rest[..Math.Min(rest.Length, PacedPieceBytes)];
                rest = rest[piece.Length..];
                if (shaper is not null)
                {
                    await shaper.WaitAsync(piece.Length, cancellationToken);
                }

                Append(piece.Span);
                if (shaper is not null || _unflushedBytes >= MaxUnflushedBytes)
                {
                    await FlushAsync(cancellationToken);
                }
            }
        }
    }

    /// <summary>Sends what was written (or the status and headers alone), waiting while the client is behind.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (!_pending || _gone)
        {
            return;
        }

        _pending = false;
        _unflushedBytes = 0;
        try
        {
            var result = await Response.BodyWriter.FlushAsync(cancellationToken);
            if (result.IsCompleted || invocation.Client.RequestAborted.IsCancellationRequested)
            {
                MarkGone();
            }
            else
            {
                invocation.ReportSent();
            }
        }
        catch (Exception ex) when (IsClientGone(ex, cancellationToken))
        {
            MarkGone();
        }
    }

    private void Append(ReadOnlySpan<byte> piece)
    {
        try
        {
            Response.BodyWriter.Write(piece);
            _pending = true;
            _unflushedBytes += piece.Length;
            invocation.CountResponseBytes(piece.Length);
        }
        catch (Exception ex) when (IsClientGone(ex, CancellationToken.None))
        {
            MarkGone();
        }
        catch (InvalidOperationException ex)
        {
            // e.g. a body after status 204 or 304: the client cannot get it; the rest is dropped.
            invocation.Violation($"The response body could not be sent to the client: {ex.Message}");
            _bodyRefused = true;
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
