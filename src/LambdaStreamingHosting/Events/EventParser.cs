using System.Text.Json;

namespace LambdaStreamingHosting.Events;

/// <summary>Reads an event into an <see cref="HttpEvent"/> and tells which front end sent it.</summary>
internal static class EventParser
{
    private const string ShapesUnderstood =
        "a Function URL or API Gateway HTTP API event (payload 2.0: \"version\": \"2.0\" and \"requestContext.http\"), " +
        "an API Gateway REST event (payload 1.0: \"httpMethod\" and \"requestContext\"), " +
        "or an Application Load Balancer event (\"httpMethod\" and \"requestContext.elb\")";

    /// <summary>Reads the event in one pass; every failure becomes an <see cref="InvalidEventException"/>.</summary>
    public static HttpEvent Parse(ReadOnlyMemory<byte> eventJson)
    {
        try
        {
            return JsonSerializer.Deserialize(eventJson.Span, HttpEventJsonContext.Default.HttpEvent)
                ?? throw new InvalidEventException(EventErrors.UnknownShape, $"The event is JSON null. Expected {ShapesUnderstood}.");
        }
        catch (JsonException ex)
        {
            throw Explain(eventJson.Span, ex);
        }
    }

    /// <summary>
    /// The event's source: the shape of the event, narrowed to the pinned <paramref name="pinned"/> source when it is
    /// one of the same shape (Function URL and HTTP API share payload 2.0; REST and HTTP API share payload 1.0).
    /// </summary>
    public static LambdaEventSource Detect(HttpEvent evt, LambdaEventSource pinned, ReadOnlyMemory<byte> eventJson)
    {
        var detected = DetectShape(evt)
            ?? throw new InvalidEventException(EventErrors.UnknownShape,
                $"The event is not an HTTP event this function understands. Expected {ShapesUnderstood}; the event has the top-level fields {TopLevelFields(eventJson.Span)}.");
        if (pinned == LambdaEventSource.Auto || pinned == detected)
        {
            return detected;
        }

        var sameShape = IsPayloadV2(evt)
            ? pinned is LambdaEventSource.FunctionUrl or LambdaEventSource.HttpApi
            : evt.Version == "1.0" && pinned is (LambdaEventSource.RestApi or LambdaEventSource.HttpApi);
        if (sameShape)
        {
            return pinned;
        }

        throw new InvalidEventException(EventErrors.SourceMismatch,
            $"LambdaStreaming:EventSource is {pinned}, but the event is {Describe(detected, evt)}. Set LambdaStreaming:EventSource " +
            $"(environment variable LambdaStreaming__EventSource) to {detected} or to Auto, or check which front end invokes this function.");
    }

    /// <summary>Whether the event is payload 2.0 (Function URL or HTTP API).</summary>
    public static bool IsPayloadV2(HttpEvent evt) => evt.Version == "2.0" && evt.RequestContext?.Http is not null;

    private static LambdaEventSource? DetectShape(HttpEvent evt)
    {
        if (IsPayloadV2(evt))
        {
            return IsFunctionUrl(evt.RequestContext!) ? LambdaEventSource.FunctionUrl : LambdaEventSource.HttpApi;
        }

        if (evt.HttpMethod is not null && evt.RequestContext?.Elb is not null)
        {
            return LambdaEventSource.ApplicationLoadBalancer;
        }

        if (evt.HttpMethod is not null && evt.RequestContext is not null)
        {
            // HTTP APIs can send payload 1.0 too, marked with a version (REST events have none). They never stream.
            return evt.Version == "1.0" ? LambdaEventSource.HttpApi : LambdaEventSource.RestApi;
        }

        return null;
    }

    /// <summary>
    /// Function URLs and HTTP APIs both send payload 2.0. A Function URL's domain is always <c>*.lambda-url.*</c> (it has
    /// no custom domains) and its route key and stage are <c>$default</c>. An HTTP API has an <c>*.execute-api.*</c> or a
    /// custom domain. Events with no domain or a loopback one (emulators, local tools, hand-written tests) with
    /// <c>$default</c> route and stage count as a Function URL. Pin <see cref="LambdaStreamingOptions.EventSource"/> to
    /// decide otherwise.
    /// </summary>
    private static bool IsFunctionUrl(HttpEventRequestContext context)
    {
        var domain = context.DomainName ?? "";
        if (domain.Contains(".lambda-url.", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (context.RouteKey is { } routeKey && routeKey != "$default" || context.Stage is { } stage && stage != "$default")
        {
            return false;
        }

        return domain.Length == 0
            || domain.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || (System.Net.IPAddress.TryParse(domain.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address));
    }

    private static string Describe(LambdaEventSource source, HttpEvent evt) => source switch
    {
        LambdaEventSource.FunctionUrl => "a Function URL event (payload 2.0)",
        LambdaEventSource.HttpApi => $"an API Gateway HTTP API event (payload {evt.Version})",
        LambdaEventSource.RestApi => "an API Gateway REST event (payload 1.0)",
        _ => "an Application Load Balancer event",
    };

    /// <summary>Tells invalid JSON from valid JSON of the wrong shape or field types (only on the failure path).</summary>
    private static InvalidEventException Explain(ReadOnlySpan<byte> json, JsonException ex)
    {
        var reader = new Utf8JsonReader(json);
        try
        {
            while (reader.Read())
            {
            }
        }
        catch (JsonException syntax)
        {
            return new InvalidEventException(EventErrors.InvalidJson,
                json.IsEmpty ? "The event is empty, not JSON." : $"The event is not valid JSON: {syntax.Message}", syntax);
        }

        var root = new Utf8JsonReader(json);
        root.Read();
        if (root.TokenType != JsonTokenType.StartObject)
        {
            return new InvalidEventException(EventErrors.UnknownShape,
                $"The event is a JSON {Kind(root.TokenType)}, not an object. Expected {ShapesUnderstood}.", ex);
        }

        var path = string.IsNullOrEmpty(ex.Path) ? "$" : ex.Path;
        return new InvalidEventException(EventErrors.InvalidField,
            $"The event field {path} has the wrong type: expected {ExpectedType(ex.Message)}.", ex);
    }

    private static string ExpectedType(string message)
    {
        const string Marker = "could not be converted to ";
        var start = message.IndexOf(Marker, StringComparison.Ordinal);
        if (start < 0)
        {
            return "another JSON type";
        }

        var type = message[(start + Marker.Length)..];
        var end = type.IndexOf(". ", StringComparison.Ordinal);
        type = (end < 0 ? type : type[..end]).TrimEnd('.');
        return type switch
        {
            "System.String" => "a string",
            "System.Boolean" => "true or false",
            _ when type.StartsWith("System.Collections.Generic.List", StringComparison.Ordinal) => "an array",
            _ => "an object",
        };
    }

    private static string Kind(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        _ => "null",
    };

    private static string TopLevelFields(ReadOnlySpan<byte> json)
    {
        const int MaxListed = 20;
        var names = new List<string>();
        var count = 0;
        var reader = new Utf8JsonReader(json);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (count++ < MaxListed)
            {
                names.Add("\"" + reader.GetString() + "\"");
            }

            reader.Read();
            reader.Skip();
        }

        return count switch
        {
            0 => "(none)",
            > MaxListed => string.Join(", ", names) + $" and {count - MaxListed} more",
            _ => string.Join(", ", names),
        };
    }
}
