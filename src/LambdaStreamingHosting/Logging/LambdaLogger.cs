using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Logging;

/// <summary>A logger of <see cref="LambdaLoggerProvider"/> for one category. It keeps no scopes: the ids come from <see cref="InvocationLogContext.Current"/>.</summary>
internal sealed class LambdaLogger(LambdaLoggerProvider provider, LogCategory category) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel == LogLevel.None || formatter is null)
        {
            return;
        }

        string message;
        try
        {
            message = formatter(state, exception) ?? string.Empty;
        }
#pragma warning disable CA1031 // Logging must never throw into the app.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            message = $"The log message could not be formatted: {ex.GetType().FullName}: {ex.Message}";
        }

        // The template's named properties are written only in JSON (reading them boxes a struct state).
        var properties = provider.Format == LambdaLogFormat.Json ? state as IReadOnlyList<KeyValuePair<string, object?>> : null;
        provider.Write(logLevel, category, message, properties, exception);
    }
}
