using System.Buffers;
using System.Diagnostics;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>
/// A client's view of one response while it arrives: the head, then every read of the body with the time it came
/// (<see cref="Stopwatch"/> timestamps, the clock the app's steps are stamped with). A test waits for a piece of text
/// to have arrived; a Brotli-encoded body (<c>Content-Encoding: br</c>) is decoded as far as it came, as a browser does.
/// </summary>
internal sealed class ArrivalRecorder : IDisposable
{
    private readonly Lock _gate = new();
    private readonly MemoryStream _raw = new();
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private HttpResponseMessage? _response;
    private string _decoded = "";
    private bool _brotli;
    private bool _ended;

    private ArrivalRecorder(HttpClient client, HttpRequestMessage request) => Completion = ReadAsync(client, request);

    /// <summary>Reads the response to its end; faults when the request or a read failed.</summary>
    public Task Completion { get; }

    /// <summary>The response head, once it arrived.</summary>
    public HttpResponseMessage Response => _response ?? throw new InvalidOperationException("The response head has not arrived.");

    /// <summary>The body bytes as they came over the wire (still encoded).</summary>
    public byte[] RawBody
    {
        get
        {
            lock (_gate)
            {
                return _raw.ToArray();
            }
        }
    }

    /// <summary>The body so far, decoded.</summary>
    public string Decoded
    {
        get
        {
            lock (_gate)
            {
                return _decoded;
            }
        }
    }

    /// <summary>Sends a GET for <paramref name="url"/> (a connection of its own) and starts recording.</summary>
    public static ArrivalRecorder Start(HttpClient client, Uri url, string? acceptEncoding)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.ConnectionClose = true; // a connection per response, so a server's transport carries only this one
        if (acceptEncoding is not null)
        {
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue(acceptEncoding));
        }

        return new ArrivalRecorder(client, request);
    }

    /// <summary>
    /// Waits until the body contains <paramref name="text"/> and returns when it arrived; throws
    /// <see cref="TimeoutException"/> when it has not after <paramref name="patience"/>, or when the body ended without it.
    /// </summary>
    public async Task<long> WaitForAsync(string text, TimeSpan patience)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(patience.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_decoded.Contains(text, StringComparison.Ordinal))
                {
                    return _arrivals.First(a => a.Text.Contains(text, StringComparison.Ordinal)).Timestamp;
                }

                if (_ended)
                {
                    throw new TimeoutException($"The body ended without '{text}'.");
                }

                changed = _changed.Task;
            }

            var left = deadline - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                throw new TimeoutException($"'{text}' had not arrived after {patience.TotalSeconds:F0} s.");
            }

            try
            {
                await changed.WaitAsync(TimeSpan.FromSeconds((double)left / Stopwatch.Frequency));
            }
            catch (TimeoutException)
            {
                // Checked once more at the top, then reported.
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _response?.Dispose();
        _stop.Dispose();
    }

    // The decoded body after each read, with the read's time: where a text first appears is when it arrived.
    private readonly List<(long Timestamp, string Text)> _arrivals = [];

    private async Task ReadAsync(HttpClient client, HttpRequestMessage request)
    {
        try
        {
            var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _stop.Token);
            lock (_gate)
            {
                _response = response;
                _brotli = response.Content.Headers.ContentEncoding.Contains("br");
            }

            await using var body = await response.Content.ReadAsStreamAsync(_stop.Token);
            var buffer = new byte[64 * 1024];
            while (true)
            {
                var read = await body.ReadAsync(buffer, _stop.Token);
                var now = Stopwatch.GetTimestamp();
                lock (_gate)
                {
                    if (read == 0)
                    {
                        _ended = true;
                    }
                    else
                    {
                        _raw.Write(buffer, 0, read);
                        _decoded = _brotli ? DecodeBrotliPrefix(_raw.ToArray()) : Encoding.UTF8.GetString(_raw.GetBuffer(), 0, (int)_raw.Length);
                        _arrivals.Add((now, _decoded));
                    }

                    (_changed, var changed) = (new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), _changed);
                    changed.SetResult();
                }

                if (read == 0)
                {
                    return;
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _ended = true;
                _changed.TrySetResult();
            }
        }
    }

    /// <summary>Decodes as much of a Brotli stream as has arrived (a flushed prefix decodes to the text written so far).</summary>
    private static string DecodeBrotliPrefix(byte[] encoded)
    {
        using var decoder = new BrotliDecoder();
        var output = new ArrayBufferWriter<byte>();
        var source = encoded.AsSpan();
        while (true)
        {
            var status = decoder.Decompress(source, output.GetSpan(16 * 1024), out var consumed, out var written);
            output.Advance(written);
            source = source[consumed..];
            if (status != OperationStatus.DestinationTooSmall)
            {
                return Encoding.UTF8.GetString(output.WrittenSpan);
            }
        }
    }
}
