using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.Npgsql;

/// <summary>
/// Checks <see cref="LambdaConnectionPoolOptions"/>, with messages that name the configuration key and say what to
/// change. Both lifecycle registrations register it (once) and validate their options when the host starts; an
/// integration that registers its own named <see cref="LambdaConnectionPoolOptions"/> instance registers it the same
/// way, as an <see cref="IValidateOptions{TOptions}"/> singleton.
/// </summary>
public sealed class LambdaConnectionPoolOptionsValidator : IValidateOptions<LambdaConnectionPoolOptions>
{
    private const string Section = LambdaConnectionPoolOptions.ConfigurationSectionName;

    /// <summary>Checks every option of <paramref name="options"/> and reports each value out of range.</summary>
    /// <param name="name">The name of the options instance (every instance is checked by the same rules).</param>
    /// <param name="options">The options to check.</param>
    /// <returns>Success, or one failure message per value out of range.</returns>
    public ValidateOptionsResult Validate(string? name, LambdaConnectionPoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.WarmConnections < 0)
        {
            failures.Add($"{Section}:WarmConnections is {options.WarmConnections}; set it to 0 (no warm start) or more.");
        }

        if (options.ThawCheckTimeout <= TimeSpan.Zero || options.ThawCheckTimeout > TimeSpan.FromSeconds(30))
        {
            failures.Add($"{Section}:ThawCheckTimeout is {options.ThawCheckTimeout}; set a positive time span of at most 30 s, e.g. 00:00:01.");
        }

        if (options.ThawClearThreshold < TimeSpan.Zero)
        {
            failures.Add($"{Section}:ThawClearThreshold is {options.ThawClearThreshold}; set it to 00:00:00 (clear after every invocation) or a positive time span.");
        }

        if (options.WarmUpTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{Section}:WarmUpTimeout is {options.WarmUpTimeout}; set a positive time span below the 10 s Lambda init limit, e.g. 00:00:03.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
