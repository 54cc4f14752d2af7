using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.Npgsql;

/// <summary>Checks <see cref="LambdaConnectionPoolOptions"/> at start-up, with messages saying what to change.</summary>
internal sealed class LambdaConnectionPoolOptionsValidator : IValidateOptions<LambdaConnectionPoolOptions>
{
    private const string Section = LambdaConnectionPoolOptions.ConfigurationSectionName;

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
