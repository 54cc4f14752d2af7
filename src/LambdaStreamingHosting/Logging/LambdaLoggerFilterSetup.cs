using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting.Logging;

/// <summary>
/// Adjusts the app's log filter rules after all of them were configured (so the order in which the app set up its
/// logging does not matter), when the Lambda logger is on and among the app's providers:
/// <list type="number">
/// <item>ASP.NET Core's console logger writes nothing: its own rules are removed and one rule turns it off (it would
/// write each entry over several lines, and every stdout line becomes a CloudWatch event).</item>
/// <item>With <c>AWS_LAMBDA_LOG_LEVEL</c> set, and no rule of the app's own for the Lambda provider
/// (<c>Logging:Lambda:LogLevel:...</c>), the Lambda provider gets rules of its own: that level as its default (in place
/// of the app's <c>Logging:LogLevel:Default</c>), and for each category the app configured for all providers
/// (<c>Logging:LogLevel:Microsoft.AspNetCore</c>) the higher of the app's level and that level. Rules for one provider
/// win over rules for all, so a template's <c>Default=Information</c> cannot defeat <c>AWS_LAMBDA_LOG_LEVEL=WARN</c>,
/// while a category the app quietened stays quiet.</item>
/// </list>
/// </summary>
internal sealed class LambdaLoggerFilterSetup : IPostConfigureOptions<LoggerFilterOptions>
{
    private const string ConsoleProvider = "Microsoft.Extensions.Logging.Console.ConsoleLoggerProvider";
    private const string ConsoleAlias = "Console";
    private static readonly string LambdaProvider = typeof(LambdaLoggerProvider).FullName!;

    private readonly LambdaLoggingSettings _settings;
    private readonly IServiceProvider _services;

    // The providers are looked up when the rules are built (by the logger factory, which has them by then), not when
    // this is made: a provider that itself depends on the filter options must not make a dependency cycle.
    public LambdaLoggerFilterSetup(LambdaLoggingSettings settings, IServiceProvider services)
    {
        _settings = settings;
        _services = services;
    }

    public void PostConfigure(string? name, LoggerFilterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!_settings.Enabled || !_services.GetServices<ILoggerProvider>().Any(provider => provider is LambdaLoggerProvider { Enabled: true }))
        {
            return;
        }

        var rules = options.Rules;
        for (var i = rules.Count - 1; i >= 0; i--)
        {
            if (rules[i].ProviderName is ConsoleProvider or ConsoleAlias)
            {
                rules.RemoveAt(i);
            }
        }

        rules.Add(new LoggerFilterRule(ConsoleProvider, null, LogLevel.None, null));

        if (_settings.MinimumLevel is not { } level || rules.Any(rule => IsLambdaProvider(rule.ProviderName)))
        {
            return;
        }

        var forAllProviders = rules.Where(rule => rule.ProviderName is null).ToList();
        var defaultRule = forAllProviders.LastOrDefault(rule => rule.CategoryName is null);
        rules.Add(new LoggerFilterRule(LambdaProvider, null, level, defaultRule?.Filter));
        foreach (var rule in forAllProviders)
        {
            if (rule.CategoryName is not null)
            {
                var categoryLevel = rule.LogLevel is { } own && own > level ? own : level;
                rules.Add(new LoggerFilterRule(LambdaProvider, rule.CategoryName, categoryLevel, rule.Filter));
            }
        }
    }

    private static bool IsLambdaProvider(string? providerName) =>
        providerName == LambdaLoggerProvider.Alias || providerName == LambdaProvider;
}
