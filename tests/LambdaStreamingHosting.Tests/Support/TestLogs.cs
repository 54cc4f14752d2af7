using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>Collects log entries with their scopes, for assertions.</summary>
public sealed class TestLogs : ILoggerProvider, ISupportExternalScope
{
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public ConcurrentQueue<Entry> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    public override string ToString() => string.Join("\n", Entries.Select(e => $"{e.Level} {e.Category}: {e.Message} {e.Exception}"));

    public sealed record Entry(string Category, LogLevel Level, string Message, Exception? Exception, IReadOnlyList<object?> Scopes);

    private sealed class Logger(TestLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => owner._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopes = new List<object?>();
            owner._scopes.ForEachScope((scope, list) => list.Add(scope), scopes);
            owner.Entries.Enqueue(new Entry(category, logLevel, formatter(state, exception), exception, scopes));
        }
    }
}
