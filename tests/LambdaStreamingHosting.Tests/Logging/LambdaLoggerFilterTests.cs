// These tests log the way most apps do (LoggerExtensions with message templates), which the Lambda logger must handle.
#pragma warning disable CA1848, CA1873

using System.Text;
using LambdaStreamingHosting.Logging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace LambdaStreamingHosting.Tests.Logging;

/// <summary>
/// Which entries reach which provider inside Lambda, through the real <c>Microsoft.Extensions.Logging</c> filter rules:
/// <c>AWS_LAMBDA_LOG_LEVEL</c> against the app's configuration, and ASP.NET Core's console logger silenced however
/// the app set it up.
/// </summary>
public sealed class LambdaLoggerFilterTests
{
    // What `dotnet new web` (and the lambda-streaming template) puts in appsettings.json.
    private const string TemplateSettings = """{ "Logging": { "LogLevel": { "Default": "Information", "Microsoft.AspNetCore": "Warning" } } }""";

    [Fact]
    public void The_template_s_appsettings_do_not_defeat_AWS_LAMBDA_LOG_LEVEL_WARN()
    {
        using var app = new LoggingApp(TemplateSettings, awsLogLevel: "WARN");

        Assert.False(app.IsEnabled("MyApp", LogLevel.Information));
        Assert.True(app.IsEnabled("MyApp", LogLevel.Warning));
        Assert.False(app.IsEnabled("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Information));
        Assert.True(app.IsEnabled("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning));

        var logger = app.Factory.CreateLogger("MyApp");
        logger.LogInformation("hidden");
        logger.LogWarning("shown");
        Assert.Equal(["shown"], app.Messages());
    }

    [Fact]
    public void AWS_LAMBDA_LOG_LEVEL_DEBUG_lowers_the_default_while_a_category_the_app_quietened_stays_quiet()
    {
        using var app = new LoggingApp(TemplateSettings, awsLogLevel: "debug");

        Assert.True(app.IsEnabled("MyApp", LogLevel.Debug));
        Assert.False(app.IsEnabled("MyApp", LogLevel.Trace));
        Assert.False(app.IsEnabled("Microsoft.AspNetCore.Routing", LogLevel.Information));
        Assert.True(app.IsEnabled("Microsoft.AspNetCore.Routing", LogLevel.Warning));
    }

    [Fact]
    public void Levels_the_app_set_for_the_Lambda_provider_win_over_AWS_LAMBDA_LOG_LEVEL()
    {
        using var app = new LoggingApp(
            """{ "Logging": { "LogLevel": { "Default": "Information" }, "Lambda": { "LogLevel": { "Default": "Error" } } } }""",
            awsLogLevel: "DEBUG");

        Assert.False(app.IsEnabled("MyApp", LogLevel.Warning));
        Assert.True(app.IsEnabled("MyApp", LogLevel.Error));
    }

    [Fact]
    public void Without_AWS_LAMBDA_LOG_LEVEL_the_app_s_levels_apply()
    {
        using var app = new LoggingApp(TemplateSettings, awsLogLevel: null);

        Assert.False(app.IsEnabled("MyApp", LogLevel.Debug));
        Assert.True(app.IsEnabled("MyApp", LogLevel.Information));
        Assert.False(app.IsEnabled("Microsoft.AspNetCore.Routing", LogLevel.Information));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_console_logger_writes_nothing_whatever_the_order_and_its_own_rules(bool consoleAddedFirst)
    {
        // The console is told to log everything, the app's default is Warning: any Debug entry could only be the console's.
        using var app = new LoggingApp(
            """{ "Logging": { "LogLevel": { "Default": "Warning" }, "Console": { "LogLevel": { "Default": "Trace", "MyApp": "Trace" } } } }""",
            awsLogLevel: null,
            logging: builder => builder.AddConsole().AddFilter<ConsoleLoggerProvider>("MyApp", LogLevel.Trace),
            consoleAddedFirst: consoleAddedFirst);

        Assert.False(app.IsEnabled("MyApp", LogLevel.Debug));
        Assert.False(app.IsEnabled("Other", LogLevel.Information));
        Assert.True(app.IsEnabled("Other", LogLevel.Warning));
    }

    [Fact]
    public void With_UseLambdaLogger_false_the_console_logger_keeps_its_rules()
    {
        using var app = new LoggingApp(
            """{ "LambdaStreaming": { "UseLambdaLogger": false }, "Logging": { "LogLevel": { "Default": "Warning" }, "Console": { "LogLevel": { "Default": "Trace" } } } }""",
            awsLogLevel: "ERROR",
            logging: builder => builder.AddConsole());

        Assert.True(app.IsEnabled("MyApp", LogLevel.Debug));
        app.Factory.CreateLogger("MyApp").LogError("to the console only");
        Assert.Empty(app.Messages());
    }

    [Fact]
    public void When_the_app_removed_the_Lambda_logger_the_console_logger_is_left_alone()
    {
        using var app = new LoggingApp(
            """{ "Logging": { "LogLevel": { "Default": "Warning" }, "Console": { "LogLevel": { "Default": "Trace" } } } }""",
            awsLogLevel: null,
            logging: builder => builder.ClearProviders().AddConsole(),
            consoleAddedFirst: false);

        Assert.True(app.IsEnabled("MyApp", LogLevel.Debug));
    }

    /// <summary>A service provider set up as inside Lambda, with the Lambda logger writing to a captured output.</summary>
    private sealed class LoggingApp : IDisposable
    {
        private readonly ServiceProvider _services;
        private readonly CapturedOutput _output = new();

        public LoggingApp(string settings, string? awsLogLevel, Action<ILoggingBuilder>? logging = null, bool consoleAddedFirst = true)
        {
            var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(settings))).Build();
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(configuration);
            services.AddOptions<LambdaStreamingOptions>().BindConfiguration(LambdaStreamingOptions.ConfigurationSectionName);
            services.AddLogging(builder => builder.AddConfiguration(configuration.GetSection("Logging")));
            if (consoleAddedFirst)
            {
                services.AddLogging(builder => logging?.Invoke(builder));
            }

            services.AddSingleton(provider => new LambdaLoggerProvider(provider.GetRequiredService<LambdaLoggingSettings>(), _output, TimeProvider.System));
            services.AddLambdaLogging(name => name switch
            {
                LambdaLoggingSettings.LevelVariable => awsLogLevel,
                LambdaLoggingSettings.FormatVariable => "JSON",
                _ => null,
            });
            if (!consoleAddedFirst)
            {
                services.AddLogging(builder => logging?.Invoke(builder));
            }

            _services = services.BuildServiceProvider();
            Factory = _services.GetRequiredService<ILoggerFactory>();
        }

        public ILoggerFactory Factory { get; }

        public bool IsEnabled(string category, LogLevel level) => Factory.CreateLogger(category).IsEnabled(level);

        public List<string?> Messages()
        {
            Assert.True(_services.GetRequiredService<LambdaLoggerProvider>().Flush(TimeSpan.FromSeconds(30)));
            return [.. _output.Lines.Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("message").GetString())];
        }

        public void Dispose()
        {
            _services.Dispose();
            _output.Dispose();
        }
    }
}
