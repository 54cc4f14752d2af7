using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.OpenTelemetry;

/// <summary>Checks <see cref="LambdaTelemetryFlushOptions"/> at start-up, with a message saying what to change.</summary>
internal sealed class LambdaTelemetryFlushOptionsValidator : IValidateOptions<LambdaTelemetryFlushOptions>
{
    // Lambda's longest invocation: a bound beyond it would never be reached.
    private static readonly TimeSpan Longest = TimeSpan.FromMinutes(15);

    public ValidateOptionsResult Validate(string? name, LambdaTelemetryFlushOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Timeout <= TimeSpan.Zero || options.Timeout > Longest
            ? ValidateOptionsResult.Fail(
                $"{LambdaTelemetryFlushOptions.ConfigurationSectionName}:Timeout is {options.Timeout}; set a positive time span up to 00:15:00, e.g. 00:00:01.")
            : ValidateOptionsResult.Success;
    }
}
