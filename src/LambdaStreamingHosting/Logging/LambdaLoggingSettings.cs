using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.Logging;

/// <summary>How log entries are written inside Lambda (<c>AWS_LAMBDA_LOG_FORMAT</c>).</summary>
internal enum LambdaLogFormat
{
    /// <summary>One tab-separated line per entry: timestamp, request id, level, category and message.</summary>
    Text,

    /// <summary>One JSON object per line, in the shape of Lambda's JSON log format.</summary>
    Json,
}

/// <summary>
/// What the Lambda logger reads from the options and the environment Lambda gives the function, once:
/// <c>AWS_LAMBDA_LOG_FORMAT</c> (<c>Text</c> or <c>JSON</c>, the function's <c>LogFormat</c>) and
/// <c>AWS_LAMBDA_LOG_LEVEL</c> (the function's <c>ApplicationLogLevel</c>).
/// </summary>
internal sealed class LambdaLoggingSettings
{
    public const string FormatVariable = "AWS_LAMBDA_LOG_FORMAT";
    public const string LevelVariable = "AWS_LAMBDA_LOG_LEVEL";

    /// <summary>Whether the Lambda logger writes (and ASP.NET Core's console logger is silenced).</summary>
    public bool Enabled { get; init; } = true;

    public LambdaLogFormat Format { get; init; }

    /// <summary>The minimum level from <c>AWS_LAMBDA_LOG_LEVEL</c>, or <see langword="null"/> when it is unset or unknown.</summary>
    public LogLevel? MinimumLevel { get; init; }

    public static LambdaLoggingSettings Create(IOptions<LambdaStreamingOptions> options, Func<string, string?> environment)
    {
        bool enabled;
        try
        {
            enabled = options.Value.UseLambdaLogger;
        }
        catch (Exception ex) when (ex is OptionsValidationException or InvalidOperationException)
        {
            // Invalid options (or values that do not bind) fail the host's start, which the Lambda logger then reports:
            // it stays on for that.
            enabled = true;
        }

        return new LambdaLoggingSettings
        {
            Enabled = enabled,
            Format = string.Equals(environment(FormatVariable)?.Trim(), "JSON", StringComparison.OrdinalIgnoreCase) ? LambdaLogFormat.Json : LambdaLogFormat.Text,
            MinimumLevel = LambdaLogLevels.TryParse(environment(LevelVariable), out var level) ? level : null,
        };
    }
}
