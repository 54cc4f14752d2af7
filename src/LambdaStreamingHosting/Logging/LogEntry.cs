using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Logging;

/// <summary>One log entry, as the Lambda logger formats it.</summary>
internal readonly record struct LogEntry(
    DateTimeOffset Timestamp,
    LogLevel Level,
    LogCategory Category,
    string Message,
    IReadOnlyList<KeyValuePair<string, object?>>? Properties,
    Exception? Exception,
    InvocationLogContext? Invocation);
