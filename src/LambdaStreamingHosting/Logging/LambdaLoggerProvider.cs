using System.Buffers;
using LambdaStreamingHosting.Buffers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LambdaStreamingHosting.Logging;

/// <summary>
/// The logger provider inside Lambda: every entry is one line on standard output, in Lambda's JSON log shape when
/// <c>AWS_LAMBDA_LOG_FORMAT</c> is <c>JSON</c>, else as one line of text (see <see cref="LogEntryFormatter"/>). The
/// caller formats the entry and queues it; a background thread writes it (<see cref="LogLineQueue"/>), and, when one
/// invocation runs at a time, the invocation loop calls <see cref="Flush"/> before each <c>/next</c>, after which Lambda
/// may freeze the process. The request, trace and tenant ids come from <see cref="InvocationLogContext.Current"/>, the
/// invocation the entry belongs to. Its configuration alias is <c>Lambda</c> (<c>Logging:Lambda:LogLevel</c>).
/// </summary>
[ProviderAlias(Alias)]
internal sealed class LambdaLoggerProvider : ILoggerProvider
{
    public const string Alias = "Lambda";

    /// <summary>The category of the lines the provider writes about itself.</summary>
    public const string OwnCategory = "LambdaStreamingHosting.Logging";

    private static readonly TimeSpan ExitFlushTimeout = TimeSpan.FromSeconds(1);

    private readonly LambdaLogFormat _format;
    private readonly TimeProvider _time;
    private readonly LogLineQueue? _queue;
    private readonly LogCategory _ownCategory = new(OwnCategory);
    private bool _disposed;

    // Standard output is written around Console.Out (raw bytes, no re-encoding), under Console.Out's lock, so that a
    // Console.WriteLine of the app never lands inside a log line.
    public LambdaLoggerProvider(LambdaLoggingSettings settings)
        : this(settings, settings.Enabled ? Console.OpenStandardOutput() : Stream.Null, TimeProvider.System, outputLock: static () => Console.Out)
    {
    }

    internal LambdaLoggerProvider(
        LambdaLoggingSettings settings, Stream output, TimeProvider time, int maxQueueCapacity = LogLineQueue.MaxCapacity, Func<object>? outputLock = null)
    {
        _format = settings.Format;
        _time = time;
        if (settings.Enabled)
        {
            _queue = new LogLineQueue(output, WriteDropNotice, maxQueueCapacity, outputLock);
            AppDomain.CurrentDomain.ProcessExit += OnProcessEnding;
            AppDomain.CurrentDomain.UnhandledException += OnProcessEnding;
        }
    }

    /// <summary>Whether entries are written (<c>LambdaStreaming:UseLambdaLogger</c>).</summary>
    public bool Enabled => _queue is not null;

    internal LambdaLogFormat Format => _format;

    /// <summary>Lines dropped because the queue was full (for tests).</summary>
    internal long DroppedLines => _queue?.DroppedTotal ?? 0;

    public ILogger CreateLogger(string categoryName) => _queue is null ? NullLogger.Instance : new LambdaLogger(this, new LogCategory(categoryName));

    /// <summary>Waits until every entry logged before this call is on standard output, at most <paramref name="timeout"/>.</summary>
    public bool Flush(TimeSpan timeout) => _queue?.Flush(timeout) ?? true;

    public void Dispose()
    {
        if (_queue is null || _disposed)
        {
            return;
        }

        _disposed = true;
        AppDomain.CurrentDomain.ProcessExit -= OnProcessEnding;
        AppDomain.CurrentDomain.UnhandledException -= OnProcessEnding;
        _queue.Dispose();
    }

    /// <summary>Formats one entry on the caller's thread and queues its line.</summary>
    internal void Write(LogLevel level, LogCategory category, string message, IReadOnlyList<KeyValuePair<string, object?>>? properties, Exception? exception)
    {
        var entry = new LogEntry(_time.GetUtcNow(), level, category, message, properties, exception, InvocationLogContext.Current);
        var line = LineBuffer.Rent();
        try
        {
            try
            {
                LogEntryFormatter.Write(line, _format, entry);
            }
#pragma warning disable CA1031 // Logging must never throw into the app: the entry is written in its safe form instead.
            catch (Exception)
#pragma warning restore CA1031
            {
                line.Clear();
                if (!TryWriteSafely(line, entry))
                {
                    return;
                }
            }

            _queue!.Enqueue(line.WrittenSpan);
        }
        finally
        {
            LineBuffer.Return(line);
        }
    }

    private bool TryWriteSafely(PooledBuffer line, in LogEntry entry)
    {
        try
        {
            LogEntryFormatter.WriteSafely(line, _format, entry);
            return true;
        }
#pragma warning disable CA1031 // Not even the safe form could be written (an exception whose text throws): the entry is lost, the app goes on.
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }

    private void WriteDropNotice(long dropped, IBufferWriter<byte> output)
    {
        var message = $"{dropped} log entries were dropped: standard output took lines slower than they were logged and the log queue ({LogLineQueue.MaxCapacity / 1024} KiB) was full.";
        LogEntryFormatter.WriteSafely(output, _format, new LogEntry(_time.GetUtcNow(), LogLevel.Warning, _ownCategory, message, null, null, null));
    }

    private void OnProcessEnding(object? sender, EventArgs e) => _queue?.Flush(ExitFlushTimeout);

    /// <summary>One reusable line buffer per thread (a reentrant log call gets a fresh one).</summary>
    private static class LineBuffer
    {
        [ThreadStatic]
        private static PooledBuffer? t_buffer;

        public static PooledBuffer Rent()
        {
            var buffer = t_buffer;
            t_buffer = null;
            return buffer ?? new PooledBuffer(minimumSize: 1024, retainedSize: 16 * 1024);
        }

        /// <summary>The line is queued: the buffer is kept for the thread's next one (a huge line's array is let go).</summary>
        public static void Return(PooledBuffer buffer)
        {
            buffer.Release();
            t_buffer = buffer;
        }
    }
}
