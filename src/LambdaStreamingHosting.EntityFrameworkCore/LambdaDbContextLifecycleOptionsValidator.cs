using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.EntityFrameworkCore;

/// <summary>Checks <see cref="LambdaDbContextLifecycleOptions"/> at start-up, with messages saying what to change.</summary>
internal sealed class LambdaDbContextLifecycleOptionsValidator : IValidateOptions<LambdaDbContextLifecycleOptions>
{
    private const string Section = LambdaDbContextLifecycleOptions.ConfigurationSectionName;

    public ValidateOptionsResult Validate(string? name, LambdaDbContextLifecycleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.WarmConnections < 0)
        {
            failures.Add($"{Section}:WarmConnections is {options.WarmConnections}; set it to 0 (no warm start) or more.");
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
