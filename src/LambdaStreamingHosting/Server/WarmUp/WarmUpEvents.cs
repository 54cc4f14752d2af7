using System.Globalization;
using System.Text.Json;

namespace LambdaStreamingHosting.Server.WarmUp;

/// <summary>One warm-up event: what it stands for (for the log), its JSON, and whether any status is expected.</summary>
/// <param name="Description">The request, as the log names it (<c>GET /api/items (Function URL)</c>).</param>
/// <param name="Event">The event, as a front end would send it.</param>
/// <param name="Registered">A request the app registered (a 4xx or 5xx answer is then worth a warning), not the server's own priming.</param>
internal sealed record WarmUpEvent(string Description, byte[] Event, bool Registered);

/// <summary>
/// The events of a warm-up: each registered request in the shape of the front end the function serves, or, with none
/// registered, the server's own priming request in every shape the function may get (so both the streamed and the
/// buffered answer are primed when it may give both).
/// </summary>
internal static class WarmUpEvents
{
    /// <summary>The path of the server's own priming request, which no endpoint is expected to match.</summary>
    public const string PrimingPath = "/_lambda-streaming/warm-up";

    private const string FunctionUrlDomain = "warm-up.lambda-url.us-east-1.on.aws";
    private const string HttpApiDomain = "warm-up.execute-api.us-east-1.amazonaws.com";

    /// <summary>The events to run, each <see cref="LambdaWarmUpOptions.Iterations"/> times; empty when warm-up is off.</summary>
    public static IReadOnlyList<WarmUpEvent> Plan(LambdaStreamingOptions options)
    {
        var warmUp = options.WarmUp;
        if (warmUp.Iterations == 0)
        {
            return [];
        }

        List<WarmUpEvent> events = [];
        if (warmUp.Requests.Count == 0)
        {
            var priming = new LambdaWarmUpRequest { Path = PrimingPath };
            foreach (var source in PrimingSources(options))
            {
                events.Add(Create(priming, source, registered: false));
            }
        }
        else
        {
            var source = options.EventSource == LambdaEventSource.Auto ? LambdaEventSource.FunctionUrl : options.EventSource;
            foreach (var request in warmUp.Requests)
            {
                events.Add(Create(request, source, registered: true));
            }
        }

        var all = new List<WarmUpEvent>(events.Count * warmUp.Iterations);
        foreach (var warmUpEvent in events)
        {
            for (var i = 0; i < warmUp.Iterations; i++)
            {
                all.Add(warmUpEvent);
            }
        }

        return all;
    }

    /// <summary>The shapes the function may get: with <see cref="LambdaEventSource.Auto"/>, a streamed Function URL and a buffered HTTP API.</summary>
    private static LambdaEventSource[] PrimingSources(LambdaStreamingOptions options) =>
        options.EventSource == LambdaEventSource.Auto ? [LambdaEventSource.FunctionUrl, LambdaEventSource.HttpApi] : [options.EventSource];

    public static WarmUpEvent Create(LambdaWarmUpRequest request, LambdaEventSource source, bool registered)
    {
        var description = $"{request.Method} {request.Path} ({source})";
        return new WarmUpEvent(description, Write(request, source), registered);
    }

    private static byte[] Write(LambdaWarmUpRequest request, LambdaEventSource source)
    {
        var query = request.Path.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? request.Path : request.Path[..query];
        var rawQuery = query < 0 ? "" : request.Path[(query + 1)..];
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["host"] = source == LambdaEventSource.FunctionUrl ? FunctionUrlDomain : HttpApiDomain,
            ["user-agent"] = "LambdaStreamingHosting-WarmUp",
            ["x-forwarded-for"] = "127.0.0.1",
            ["x-forwarded-port"] = "443",
            ["x-forwarded-proto"] = "https",
        };
        foreach (var (name, value) in request.Headers)
        {
            headers[name] = value;
        }

        var output = new MemoryStream();
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            switch (source)
            {
                case LambdaEventSource.RestApi:
                case LambdaEventSource.ApplicationLoadBalancer:
                    WritePayloadV1(json, request, source, path, rawQuery, headers);
                    break;
                default:
                    WritePayloadV2(json, request, source, path, rawQuery, headers);
                    break;
            }

            if (request.Body is { } body)
            {
                json.WriteString("body", body);
            }

            json.WriteBoolean("isBase64Encoded", false);
            json.WriteEndObject();
        }

        return output.ToArray();
    }

    private static void WritePayloadV2(Utf8JsonWriter json, LambdaWarmUpRequest request, LambdaEventSource source, string path, string rawQuery, Dictionary<string, string> headers)
    {
        var now = DateTimeOffset.UtcNow;
        var domain = source == LambdaEventSource.FunctionUrl ? FunctionUrlDomain : HttpApiDomain;
        json.WriteString("version", "2.0");
        json.WriteString("routeKey", "$default");
        json.WriteString("rawPath", path);
        json.WriteString("rawQueryString", rawQuery);
        json.WriteStartObject("headers");
        foreach (var (name, value) in headers)
        {
            json.WriteString(name.ToLowerInvariant(), value);
        }

        json.WriteEndObject();
        json.WriteStartObject("requestContext");
        json.WriteString("accountId", "anonymous");
        json.WriteString("apiId", "warm-up");
        json.WriteString("domainName", domain);
        json.WriteString("domainPrefix", "warm-up");
        json.WriteStartObject("http");
        json.WriteString("method", request.Method);
        json.WriteString("path", path);
        json.WriteString("protocol", "HTTP/1.1");
        json.WriteString("sourceIp", "127.0.0.1");
        json.WriteString("userAgent", headers["user-agent"]);
        json.WriteEndObject();
        json.WriteString("requestId", "warm-up");
        json.WriteString("routeKey", "$default");
        json.WriteString("stage", "$default");
        json.WriteString("time", now.ToString("dd/MMM/yyyy:HH:mm:ss +0000", CultureInfo.InvariantCulture));
        json.WriteNumber("timeEpoch", now.ToUnixTimeMilliseconds());
        json.WriteEndObject();
    }

    private static void WritePayloadV1(Utf8JsonWriter json, LambdaWarmUpRequest request, LambdaEventSource source, string path, string rawQuery, Dictionary<string, string> headers)
    {
        var alb = source == LambdaEventSource.ApplicationLoadBalancer;
        if (!alb)
        {
            json.WriteString("resource", "/{proxy+}");
        }

        json.WriteString("path", path);
        json.WriteString("httpMethod", request.Method);
        json.WriteStartObject("headers");
        foreach (var (name, value) in headers)
        {
            json.WriteString(name, value);
        }

        json.WriteEndObject();
        json.WriteStartObject("queryStringParameters");
        foreach (var pair in rawQuery.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? pair : pair[..equals];
            var value = equals < 0 ? "" : pair[(equals + 1)..];
            // The load balancer passes the query as sent; API Gateway decodes it.
            json.WriteString(alb ? name : Uri.UnescapeDataString(name), alb ? value : Uri.UnescapeDataString(value));
        }

        json.WriteEndObject();
        json.WriteStartObject("requestContext");
        if (alb)
        {
            json.WriteStartObject("elb");
            json.WriteString("targetGroupArn", "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/warm-up/0");
            json.WriteEndObject();
        }
        else
        {
            json.WriteString("accountId", "000000000000");
            json.WriteString("apiId", "warm-up");
            json.WriteString("httpMethod", request.Method);
            json.WriteString("path", path);
            json.WriteString("resourcePath", "/{proxy+}");
            json.WriteString("stage", "warm-up");
            json.WriteString("requestId", "warm-up");
            json.WriteStartObject("identity");
            json.WriteString("sourceIp", "127.0.0.1");
            json.WriteEndObject();
        }

        json.WriteEndObject();
    }

    /// <summary>The <c>statusCode</c> of an answer (the streamed prelude, or the buffered document), if it is readable.</summary>
    public static int? ReadStatusCode(ReadOnlySpan<byte> answerStart)
    {
        var reader = new Utf8JsonReader(answerStart, isFinalBlock: false, state: default);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("statusCode"u8))
                {
                    return reader.Read() && reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var status) ? status : null;
                }

                if (!reader.Read() || !reader.TrySkip())
                {
                    return null;
                }
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    /// <summary>The request's text for the log: its description and how its iterations were answered.</summary>
    public static string Describe(IEnumerable<string> outcomes) =>
        string.Join(", ", outcomes.GroupBy(outcome => outcome, StringComparer.Ordinal).Select(group =>
            group.Count() == 1 ? group.Key : string.Create(CultureInfo.InvariantCulture, $"{group.Key} ×{group.Count()}")));
}
