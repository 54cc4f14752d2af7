using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>
/// An answer to an invocation as the Runtime API sees it: <c>/response</c> (streamed or buffered) or <c>/error</c>.
/// Streamed data chunks can be read one by one while the function is still writing.
/// </summary>
public sealed class FakeAnswer
{
    private readonly Channel<byte[]> _chunks = Channel.CreateUnbounded<byte[]>();
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly MemoryStream _raw = new();
    private readonly List<byte> _pending = [];
    private long _discardedBytes;

    internal FakeAnswer(FakeRequest request, string action)
    {
        Request = request;
        Action = action;
    }

    public FakeRequest Request { get; }

    /// <summary><c>response</c> or <c>error</c>.</summary>
    public string Action { get; }

    public bool IsStreaming => Request.Headers.GetValueOrDefault("Lambda-Runtime-Function-Response-Mode") == "streaming";

    /// <summary>Trailers after the last chunk (only when the stream failed).</summary>
    public Dictionary<string, string> Trailers { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Sizes of the data chunks in arrival order.</summary>
    public List<int> ChunkSizes { get; } = [];

    /// <summary>Completes when the request was read to its end.</summary>
    public Task Completed => _completed.Task;

    /// <summary>Body bytes counted but not kept (<see cref="FakeInvocation.DiscardBody"/>).</summary>
    public long DiscardedBytes => Interlocked.Read(ref _discardedBytes);

    internal bool DiscardBody { get; set; }

    /// <summary>The chunked body exactly as it came over the wire (after the head), once <see cref="Completed"/>.</summary>
    public byte[] RawChunkedBody
    {
        get
        {
            lock (_raw)
            {
                return _raw.ToArray();
            }
        }
    }

    /// <summary>The error trailer body, decoded from base64.</summary>
    public JsonElement TrailerError => JsonDocument.Parse(Convert.FromBase64String(Trailers["Lambda-Runtime-Function-Error-Body"])).RootElement;

    /// <summary>The next data chunk, or null after the last one.</summary>
    public async Task<byte[]?> ReadChunkAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _chunks.Reader.ReadAsync(cancellationToken);
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    /// <summary>Reads chunks until the prelude and its 8 NUL delimiter arrived; returns the prelude.</summary>
    public async Task<JsonElement> ReadPreludeAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var index = DelimiterIndex();
            if (index >= 0)
            {
                var prelude = JsonDocument.Parse(_pending.Take(index).ToArray()).RootElement;
                _pending.RemoveRange(0, index + 8);
                return prelude;
            }

            var chunk = await ReadChunkAsync(cancellationToken) ?? throw new InvalidDataException("The stream ended before the prelude delimiter.");
            _pending.AddRange(chunk);
        }
    }

    /// <summary>After <see cref="ReadPreludeAsync"/>: reads chunks until the body so far contains <paramref name="text"/>.</summary>
    public async Task<string> ReadBodyUntilAsync(string text, CancellationToken cancellationToken = default)
    {
        while (!Encoding.UTF8.GetString([.. _pending]).Contains(text, StringComparison.Ordinal))
        {
            var chunk = await ReadChunkAsync(cancellationToken) ?? throw new InvalidDataException($"The stream ended before '{text}' arrived; body so far: {Encoding.UTF8.GetString([.. _pending])}");
            _pending.AddRange(chunk);
        }

        return Encoding.UTF8.GetString([.. _pending]);
    }

    /// <summary>After <see cref="ReadPreludeAsync"/>: reads the rest of the body.</summary>
    public async Task<byte[]> ReadBodyToEndAsync(CancellationToken cancellationToken = default)
    {
        while (await ReadChunkAsync(cancellationToken) is { } chunk)
        {
            _pending.AddRange(chunk);
        }

        return [.. _pending];
    }

    internal void RecordRaw(byte[] bytes)
    {
        if (!DiscardBody)
        {
            lock (_raw)
            {
                _raw.Write(bytes);
            }
        }
    }

    internal void OnChunk(byte[] data)
    {
        lock (ChunkSizes)
        {
            ChunkSizes.Add(data.Length);
        }

        _chunks.Writer.TryWrite(data);
    }

    internal void OnDiscarded(int size)
    {
        lock (ChunkSizes)
        {
            ChunkSizes.Add(size);
        }

        Interlocked.Add(ref _discardedBytes, size);
    }

    internal void Complete()
    {
        _chunks.Writer.TryComplete();
        _completed.TrySetResult();
    }

    private int DelimiterIndex()
    {
        for (var i = 0; i + 8 <= _pending.Count; i++)
        {
            var all = true;
            for (var j = 0; j < 8 && all; j++)
            {
                all = _pending[i + j] == 0;
            }

            if (all)
            {
                return i;
            }
        }

        return -1;
    }
}
