using LambdaStreamingHosting.Lifecycle;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace LambdaStreamingHosting.OpenTelemetry.Tests;

/// <summary>The resource attributes, the registration and the options of the flush, in process.</summary>
public sealed class InstrumentationTests
{
    private static readonly Dictionary<string, string> Lambda = new()
    {
        ["AWS_LAMBDA_FUNCTION_NAME"] = "orders",
        ["AWS_LAMBDA_FUNCTION_VERSION"] = "7",
        ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "1769",
        ["AWS_LAMBDA_LOG_STREAM_NAME"] = "2026/01/01/[7]abc",
        ["AWS_REGION"] = "eu-central-1",
    };

    [Fact]
    public void Inside_Lambda_the_resource_names_the_function_by_the_FaaS_and_cloud_conventions()
    {
        var attributes = LambdaResource.Attributes(Lambda.GetValueOrDefault).ToDictionary(a => a.Key, a => a.Value);

        Assert.Equal(new Dictionary<string, object>
        {
            ["cloud.provider"] = "aws",
            ["cloud.platform"] = "aws_lambda",
            ["cloud.region"] = "eu-central-1",
            ["faas.name"] = "orders",
            ["faas.version"] = "7",
            ["faas.instance"] = "2026/01/01/[7]abc",
            ["faas.max_memory"] = 1769L * 1024 * 1024,
            ["service.name"] = "orders",
        }, attributes);
    }

    [Theory]
    [InlineData("OTEL_SERVICE_NAME", "checkout")]
    [InlineData("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod, service.name=checkout")]
    public void A_service_name_the_app_chose_is_left_alone(string variable, string value)
    {
        var environment = new Dictionary<string, string>(Lambda) { [variable] = value };

        Assert.DoesNotContain(LambdaResource.Attributes(environment.GetValueOrDefault), a => a.Key == "service.name");
    }

    [Fact]
    public void Outside_Lambda_the_resource_gets_nothing() =>
        Assert.Empty(LambdaResource.Attributes(_ => null));

    [Fact]
    public void Tracing_and_metrics_together_register_one_flush_observer()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddLambdaStreamingInstrumentation())
            .WithMetrics(metrics => metrics.AddLambdaStreamingInstrumentation());
        using var app = builder.Build();

        Assert.Single(app.Services.GetServices<ILambdaLifecycleObserver>().OfType<TelemetryFlushObserver>());
        Assert.Equal(TimeSpan.FromSeconds(1), app.Services.GetRequiredService<IOptions<LambdaTelemetryFlushOptions>>().Value.Timeout);
    }

    [Fact]
    public async Task A_flush_bound_that_is_not_positive_fails_the_start_with_what_to_change()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["LambdaStreaming:TelemetryFlush:Timeout"] = "00:00:00";
        builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddLambdaStreamingInstrumentation());
        await using var app = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
        Assert.Contains("LambdaStreaming:TelemetryFlush:Timeout is 00:00:00; set a positive time span", error.Message, StringComparison.Ordinal);
    }
}
