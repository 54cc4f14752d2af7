using LambdaStreamingHosting.RuntimeApi;
using LambdaStreamingHosting.Server;
using Microsoft.Extensions.Options;

namespace LambdaStreamingHosting;

/// <summary>Checks <see cref="LambdaStreamingOptions"/> when the host starts inside Lambda; each message says what to change.</summary>
internal sealed class LambdaStreamingOptionsValidator : IValidateOptions<LambdaStreamingOptions>
{
    /// <summary>Lambda's longest function timeout.</summary>
    private static readonly TimeSpan LongestTimeout = TimeSpan.FromMinutes(15);
    private const string Section = LambdaStreamingOptions.ConfigurationSectionName;
    private readonly LambdaServerSettings _settings;

    public LambdaStreamingOptionsValidator(LambdaServerSettings settings) => _settings = settings;

    public ValidateOptionsResult Validate(string? name, LambdaStreamingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (!Enum.IsDefined(options.InvokeMode))
        {
            failures.Add($"{Section}:InvokeMode must be ResponseStream or Buffered; it is {options.InvokeMode}.");
        }

        if (!Enum.IsDefined(options.EventSource))
        {
            failures.Add($"{Section}:EventSource must be Auto, FunctionUrl, HttpApi, RestApi or ApplicationLoadBalancer; it is {options.EventSource}.");
        }
        else if (options.InvokeMode == LambdaInvokeMode.ResponseStream && !LambdaEventSources.CanStream(options.EventSource))
        {
            var which = options.EventSource == LambdaEventSource.HttpApi ? "API Gateway HTTP APIs" : "load balancers";
            failures.Add($"{Section}:InvokeMode must be Buffered when {Section}:EventSource is {options.EventSource}: {which} never stream.");
        }

        if (options.DeadlineMargin < TimeSpan.Zero || options.DeadlineMargin >= LongestTimeout)
        {
            failures.Add($"{Section}:DeadlineMargin must be at least 00:00:00 and less than {LongestTimeout:c} (Lambda's longest timeout); it is {options.DeadlineMargin:c}.");
        }

        if (options.MaxResponseBufferSize is < 0)
        {
            failures.Add($"{Section}:MaxResponseBufferSize must be 0 or more bytes (or empty for no limit); it is {options.MaxResponseBufferSize}.");
        }

        if (options.ServerSentEventsKeepAliveInterval < TimeSpan.Zero || options.ServerSentEventsKeepAliveInterval >= LongestTimeout)
        {
            failures.Add($"{Section}:ServerSentEventsKeepAliveInterval must be at least 00:00:00 (no keep-alive comments) and less than {LongestTimeout:c} (Lambda's longest timeout); it is {options.ServerSentEventsKeepAliveInterval:c}.");
        }

        ValidateLimits(options.Limits, failures);

        if (options.MaxConcurrency is < 1)
        {
            failures.Add($"{Section}:MaxConcurrency must be at least 1 (or unset to use AWS_LAMBDA_MAX_CONCURRENCY); it is {options.MaxConcurrency}.");
        }

        foreach (var contentType in options.TextContentTypes)
        {
            if (string.IsNullOrWhiteSpace(contentType) || !contentType.Contains('/', StringComparison.Ordinal) && !contentType.StartsWith("*+", StringComparison.Ordinal))
            {
                failures.Add($"{Section}:TextContentTypes entries must be media types (application/json), type wildcards (text/*) or suffixes (*+json); '{contentType}' is none of these.");
            }
        }

        ValidateWarmUp(options.WarmUp, failures);

        if (!RuntimeApiEndpoint.TryParse(_settings.EndpointFor(options), out RuntimeApiEndpoint? _, out var error))
        {
            failures.Add($"{error} Set {LambdaServerSettings.RuntimeApiVariable} or {Section}:RuntimeApiEndpoint to host:port.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateWarmUp(LambdaWarmUpOptions warmUp, List<string> failures)
    {
        const string WarmUp = Section + ":WarmUp";
        if (warmUp.Iterations is < 0 or > 100)
        {
            failures.Add($"{WarmUp}:Iterations must be from 0 (no warm-up) to 100; it is {warmUp.Iterations}.");
        }

        for (var i = 0; i < warmUp.Requests.Count; i++)
        {
            var request = warmUp.Requests[i];
            if (string.IsNullOrEmpty(request.Method) || !request.Method.All(c => char.IsAsciiLetterUpper(c) || c == '-'))
            {
                failures.Add($"{WarmUp}:Requests:{i}:Method must be an HTTP method in capitals (GET, POST); it is '{request.Method}'.");
            }

            if (string.IsNullOrEmpty(request.Path) || request.Path[0] != '/' || request.Path.Any(char.IsWhiteSpace))
            {
                failures.Add($"{WarmUp}:Requests:{i}:Path must start with '/' and have no white space; it is '{request.Path}'.");
            }

            foreach (var (header, value) in request.Headers)
            {
                if (string.IsNullOrEmpty(header) || header.Any(c => c <= ' ' || c == ':' || c > '~') || value is null || value.Any(c => c is '\r' or '\n' or '\0'))
                {
                    failures.Add($"{WarmUp}:Requests:{i}:Headers has '{header}', which is not a valid header name and value.");
                }
            }
        }
    }

    /// <summary>Kestrel accepts only positive limits; each message names Kestrel's default.</summary>
    private static void ValidateLimits(LambdaStreamingLimits limits, List<string> failures)
    {
        const string Limits = Section + ":Limits";
        if (limits.MaxRequestHeadersTotalSize < 1)
        {
            failures.Add($"{Limits}:MaxRequestHeadersTotalSize must be at least 1 byte (Kestrel's default is 32768); it is {limits.MaxRequestHeadersTotalSize}.");
        }

        if (limits.MaxRequestHeaderCount < 1)
        {
            failures.Add($"{Limits}:MaxRequestHeaderCount must be at least 1 (Kestrel's default is 100); it is {limits.MaxRequestHeaderCount}.");
        }

        if (limits.MaxRequestLineSize < 1)
        {
            failures.Add($"{Limits}:MaxRequestLineSize must be at least 1 byte (Kestrel's default is 8192); it is {limits.MaxRequestLineSize}.");
        }
    }
}
