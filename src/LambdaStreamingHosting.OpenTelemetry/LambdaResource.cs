using System.Globalization;

namespace LambdaStreamingHosting.OpenTelemetry;

/// <summary>
/// The resource attributes of a Lambda execution environment, from the variables Lambda sets (OpenTelemetry's FaaS
/// and cloud resource conventions): <c>cloud.provider</c>, <c>cloud.platform</c>, <c>cloud.region</c>,
/// <c>faas.name</c>, <c>faas.version</c>, <c>faas.instance</c> (the log stream, one per environment) and
/// <c>faas.max_memory</c> (bytes); <c>service.name</c> is the function name unless <c>OTEL_SERVICE_NAME</c> or
/// <c>OTEL_RESOURCE_ATTRIBUTES</c> names the service. Nothing outside Lambda.
/// </summary>
internal static class LambdaResource
{
    public static IReadOnlyList<KeyValuePair<string, object>> Attributes(Func<string, string?> variable)
    {
        if (variable("AWS_LAMBDA_FUNCTION_NAME") is not { Length: > 0 } functionName)
        {
            return [];
        }

        List<KeyValuePair<string, object>> attributes =
        [
            new("cloud.provider", "aws"),
            new("cloud.platform", "aws_lambda"),
            new("faas.name", functionName),
        ];
        Add(attributes, "cloud.region", variable("AWS_REGION"));
        Add(attributes, "faas.version", variable("AWS_LAMBDA_FUNCTION_VERSION"));
        Add(attributes, "faas.instance", variable("AWS_LAMBDA_LOG_STREAM_NAME"));
        if (long.TryParse(variable("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), NumberStyles.None, CultureInfo.InvariantCulture, out var megabytes))
        {
            attributes.Add(new("faas.max_memory", megabytes * 1024 * 1024));
        }

        if (string.IsNullOrEmpty(variable("OTEL_SERVICE_NAME"))
            && variable("OTEL_RESOURCE_ATTRIBUTES")?.Split(',').Any(a => a.Trim().StartsWith("service.name=", StringComparison.Ordinal)) != true)
        {
            attributes.Add(new("service.name", functionName));
        }

        return attributes;
    }

    private static void Add(List<KeyValuePair<string, object>> attributes, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            attributes.Add(new(name, value));
        }
    }
}
