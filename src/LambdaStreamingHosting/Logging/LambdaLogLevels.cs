using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Logging;

/// <summary>
/// Lambda's log level names (<c>TRACE</c>, <c>DEBUG</c>, <c>INFO</c>, <c>WARN</c>, <c>ERROR</c>, <c>FATAL</c>): the values
/// of <c>AWS_LAMBDA_LOG_LEVEL</c> and of the <c>level</c> field Lambda filters JSON logs by.
/// </summary>
internal static class LambdaLogLevels
{
    /// <summary>Reads an <c>AWS_LAMBDA_LOG_LEVEL</c> value (any case); <see langword="false"/> for anything else.</summary>
    public static bool TryParse(string? value, out LogLevel level)
    {
        level = value?.Trim().ToUpperInvariant() switch
        {
            "TRACE" => LogLevel.Trace,
            "DEBUG" => LogLevel.Debug,
            "INFO" => LogLevel.Information,
            "WARN" => LogLevel.Warning,
            "ERROR" => LogLevel.Error,
            "FATAL" => LogLevel.Critical,
            _ => LogLevel.None,
        };
        return level != LogLevel.None;
    }

    /// <summary>The Lambda name of <paramref name="level"/>, as UTF-8.</summary>
    public static ReadOnlySpan<byte> Utf8Name(LogLevel level) => level switch
    {
        LogLevel.Trace => "TRACE"u8,
        LogLevel.Debug => "DEBUG"u8,
        LogLevel.Information => "INFO"u8,
        LogLevel.Warning => "WARN"u8,
        LogLevel.Error => "ERROR"u8,
        _ => "FATAL"u8,
    };
}
