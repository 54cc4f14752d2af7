using System.Text;
using System.Text.Json.Nodes;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>The front-end shapes an event can have; each reaches the server through its own mapping.</summary>
public enum EventShape
{
    FunctionUrl,
    HttpApi,
    RestApi,
    AlbSingleValue,
    AlbMultiValue,
}

/// <summary>
/// One HTTP/1.1 request at (or one past) a limit, with the status Kestrel gives it, and the same request as the event
/// of each front end. Names are the test's display names.
/// </summary>
/// <remarks>
/// Equivalence between the request and its events:
/// <list type="bullet">
/// <item>Each header line is one header value in the event (<c>headers</c>, or one entry of the array in
/// <c>multiValueHeaders</c>); payload 2.0 names are lower-cased, as the front ends send them (same byte count).</item>
/// <item>Payload 2.0 carries the <c>Cookie</c> line as <c>cookies</c> (split at <c>"; "</c>): the server rebuilds the
/// same line.</item>
/// <item>The target is <c>rawPath</c> + <c>rawQueryString</c> (payload 2.0) or <c>path</c> + query parameters
/// verbatim (ALB). REST events carry the path and query parameters decoded: the path is decoded here as API Gateway
/// decodes it and the server re-encodes the query; cases use targets whose re-encoding gives back the same bytes.</item>
/// <item>A name sent on several lines is expressible only where the event keeps every line (REST
/// <c>multiValueHeaders</c>, ALB with multi-value headers): Function URLs and HTTP APIs join the values into one line
/// and single-value ALBs keep the last, so such a request never reaches the function as Kestrel would see it.</item>
/// <item>A raw NUL in the query cannot be carried by a REST event, whose parameters are decoded and re-encoded.</item>
/// </list>
/// </remarks>
public sealed record RequestLimitCase(string Name, string Target, (string Name, string Value)[] Headers, int KestrelStatus, EventShape[] Shapes)
{
    public const string Method = "GET";

    /// <summary>Bytes of a request line besides the target: <c>GET</c>, two spaces, <c>HTTP/1.1</c>, CRLF.</summary>
    public const int LineOverhead = 3 + 2 + 8 + 2;

    public static readonly EventShape[] AllShapes = Enum.GetValues<EventShape>();

    /// <summary>Shapes that keep every line of a repeated header.</summary>
    public static readonly EventShape[] MultiValueShapes = [EventShape.RestApi, EventShape.AlbMultiValue];

    private static readonly (string, string) Host = ("Host", "example.com");

    /// <summary>The limits the cases are built against: Kestrel's defaults, or lowered ones bound from configuration.</summary>
    public static (int HeadersTotal, int HeaderCount, int Line) DefaultLimits => (32 * 1024, 100, 8 * 1024);

    public static (int HeadersTotal, int HeaderCount, int Line) LoweredLimits => (1000, 10, 200);

    public override string ToString() => Name;

    /// <summary>Bytes Kestrel counts for a header line.</summary>
    public static int LineBytes(string name, string value) => Encoding.UTF8.GetByteCount(name) + 2 + Encoding.UTF8.GetByteCount(value) + 2;

    /// <summary>Every case, keyed by name: limits at their boundary and one past, under both limit profiles; header characters.</summary>
    public static IReadOnlyDictionary<string, RequestLimitCase> All { get; } = Build();

    private static Dictionary<string, RequestLimitCase> Build()
    {
        var cases = new List<RequestLimitCase>();
        foreach (var (profile, limits) in new[] { ("default", DefaultLimits), ("lowered", LoweredLimits) })
        {
            foreach (var past in new[] { 0, 1 })
            {
                var at = past == 0 ? "limit" : "limit+1";
                var line = limits.Line + past;
                var total = limits.HeadersTotal + past;
                var count = limits.HeaderCount + past;
                var lineStatus = past == 0 ? 200 : 414;
                var headerStatus = past == 0 ? 200 : 431;
                cases.Add(new($"{profile}: request line {line} B ({at}), path",
                    "/" + new string('p', line - LineOverhead - 1), [Host], lineStatus, AllShapes));
                cases.Add(new($"{profile}: request line {line} B ({at}), query",
                    "/?q=" + new string('q', line - LineOverhead - 4), [Host], lineStatus, AllShapes));
                cases.Add(new($"{profile}: headers {total} B ({at})",
                    "/", Filled(total, [Host]), headerStatus, AllShapes));
                cases.Add(new($"{profile}: headers {total} B ({at}), Cookie",
                    "/", Filled(total, [Host, ("Cookie", "a=1; b=" + new string('c', Math.Min(200, limits.HeadersTotal / 4)))]), headerStatus, AllShapes));
                cases.Add(new($"{profile}: headers {total} B ({at}), UTF-8",
                    "/", Filled(total, [Host], fill: 'é'), headerStatus, AllShapes));
                cases.Add(new($"{profile}: {count} header lines ({at})",
                    "/", [Host, .. Enumerable.Range(1, count - 1).Select(i => ($"X-H{i}", "v"))], headerStatus, AllShapes));
                cases.Add(new($"{profile}: {count} header lines ({at}), repeated",
                    "/", [Host, .. Enumerable.Repeat(("X-Repeated", "v"), count - 1)], headerStatus, MultiValueShapes));
            }

            // The two limits are separate: a request line at its limit leaves the headers their whole allowance.
            cases.Add(new($"{profile}: request line and headers at limits",
                "/" + new string('p', limits.Line - LineOverhead - 1), Filled(limits.HeadersTotal, [Host]), 200, AllShapes));
        }

        foreach (var (value, status) in new[] { ("a\0b", 400), ("a\rb", 400), ("a\nb", 400), ("\0", 400), ("a\u0001b", 200), ("a\tb", 200), ("a\u007fb", 200), ("a\u0085b", 200), ("é", 200) })
        {
            cases.Add(new($"header value {Escape(value)}", "/", [Host, ("X-Value", value)], status, AllShapes));
        }

        foreach (var (name, status) in new[] { ("X\0A", 400), ("X\rA", 400), ("X\nA", 400), ("X A", 400), ("X\tA", 400), ("Xé", 400), ("X\u0085A", 400), ("X(A", 200), ("X\u0001A", 200), ("X\u007fA", 200), ("X\"A", 200) })
        {
            cases.Add(new($"header name {Escape(name)}", "/", [Host, (name, "v")], status, AllShapes));
        }

        // Kestrel's order: it parses line by line, and the first line that breaks a rule decides.
        cases.Add(new("NUL in 2nd line, 202 lines", "/",
            [Host, ("X-Value", "a\0b"), .. Enumerable.Range(1, 200).Select(i => ($"X-H{i}", "v"))], 400, AllShapes));
        cases.Add(new("202 lines, NUL in the last", "/",
            [Host, .. Enumerable.Range(1, 200).Select(i => ($"X-H{i}", "v")), ("X-Value", "a\0b")], 431, AllShapes));

        cases.Add(new("target: %00 in the path", "/a%00b", [Host], 400, AllShapes));
        cases.Add(new("target: raw NUL in the path", "/a\0b", [Host], 400, AllShapes));
        cases.Add(new("target: raw NUL in the query", "/?q=a\0b", [Host], 400, [.. AllShapes.Except([EventShape.RestApi])]));
        cases.Add(new("target: %00 in the query", "/?q=%00", [Host], 200, AllShapes));
        return cases.ToDictionary(c => c.Name);
    }

    /// <summary><paramref name="lines"/>, then one filler line that brings the header lines to exactly <paramref name="total"/> bytes.</summary>
    private static (string, string)[] Filled(int total, (string Name, string Value)[] lines, char fill = 'f')
    {
        var remaining = total - lines.Sum(l => LineBytes(l.Name, l.Value)) - LineBytes("X-Filler", "");
        var perChar = Encoding.UTF8.GetByteCount([fill]);
        var value = new string(fill, remaining / perChar) + new string('f', remaining % perChar);
        (string, string)[] filled = [.. lines, ("X-Filler", value)];
        return filled.Sum(l => LineBytes(l.Item1, l.Item2)) == total ? filled : throw new InvalidOperationException("filler arithmetic");
    }

    private static string Escape(string text) => string.Concat(text.Select(c => c is >= ' ' and < (char)0x7F ? c.ToString() : $"\\u{(int)c:x4}"));

    /// <summary>The raw HTTP/1.1 request Kestrel parses.</summary>
    public byte[] RawRequest() => Support.RawHttp.Request(Method, Target, Headers);

    /// <summary>The same request as the event of <paramref name="shape"/>.</summary>
    public string Event(EventShape shape)
    {
        var question = Target.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? Target : Target[..question];
        var query = question < 0 ? "" : Target[(question + 1)..];
        var pairs = query.Length == 0 ? [] : query.Split('&').Select(p => p.Split('=', 2)).Select(p => (Name: p[0], Value: p.Length > 1 ? p[1] : "")).ToArray();
        var byName = Headers.GroupBy(h => h.Name, StringComparer.Ordinal).Select(g => (Name: g.Key, Values: g.Select(h => h.Value).ToArray())).ToArray();
        if (byName.Any(h => h.Values.Length > 1) && shape is not (EventShape.RestApi or EventShape.AlbMultiValue))
        {
            throw new InvalidOperationException($"{shape} events cannot repeat a header line.");
        }

        return shape switch
        {
            EventShape.FunctionUrl => PayloadV2(path, query, byName, "abc.lambda-url.eu-west-1.on.aws"),
            EventShape.HttpApi => PayloadV2(path, query, byName, "abc.execute-api.eu-west-1.amazonaws.com"),
            EventShape.RestApi => Rest(path, pairs, byName),
            _ => Alb(path, pairs, byName, multiValue: shape == EventShape.AlbMultiValue),
        };
    }

    private static string PayloadV2(string path, string query, (string Name, string[] Values)[] headers, string domain)
    {
        var headerObject = new JsonObject();
        JsonArray? cookies = null;
        foreach (var (name, values) in headers)
        {
            if (name == "Cookie")
            {
                cookies = [.. values.Single().Split("; ").Select(c => (JsonNode)JsonValue.Create(c))];
            }
            else
            {
                headerObject[name.ToLowerInvariant()] = values.Single();
            }
        }

        var root = new JsonObject
        {
            ["version"] = "2.0",
            ["routeKey"] = "$default",
            ["rawPath"] = path,
            ["rawQueryString"] = query,
            ["headers"] = headerObject,
            ["requestContext"] = new JsonObject
            {
                ["domainName"] = domain,
                ["http"] = new JsonObject { ["method"] = Method, ["path"] = path, ["protocol"] = "HTTP/1.1", ["sourceIp"] = "203.0.113.7" },
                ["requestId"] = "r",
                ["routeKey"] = "$default",
                ["stage"] = "$default",
            },
            ["isBase64Encoded"] = false,
        };
        if (cookies is not null)
        {
            root["cookies"] = cookies;
        }

        return root.ToJsonString();
    }

    private static string Rest(string path, (string Name, string Value)[] query, (string Name, string[] Values)[] headers)
    {
        var decodedPath = Uri.UnescapeDataString(path);
        var single = new JsonObject();
        var multi = new JsonObject();
        foreach (var (name, values) in headers)
        {
            single[name] = values[^1];
            multi[name] = new JsonArray([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);
        }

        var parameters = new JsonObject();
        var multiParameters = new JsonObject();
        foreach (var (name, value) in query)
        {
            parameters[Uri.UnescapeDataString(name)] = Uri.UnescapeDataString(value);
            multiParameters[Uri.UnescapeDataString(name)] = new JsonArray(JsonValue.Create(Uri.UnescapeDataString(value)));
        }

        return new JsonObject
        {
            ["resource"] = "/{proxy+}",
            ["path"] = decodedPath,
            ["httpMethod"] = Method,
            ["headers"] = single,
            ["multiValueHeaders"] = multi,
            ["queryStringParameters"] = query.Length == 0 ? null : parameters,
            ["multiValueQueryStringParameters"] = query.Length == 0 ? null : multiParameters,
            ["requestContext"] = new JsonObject
            {
                ["path"] = decodedPath,
                ["stage"] = "test",
                ["httpMethod"] = Method,
                ["requestId"] = "r",
                ["identity"] = new JsonObject { ["sourceIp"] = "203.0.113.7" },
            },
            ["body"] = null,
            ["isBase64Encoded"] = false,
        }.ToJsonString();
    }

    private static string Alb(string path, (string Name, string Value)[] query, (string Name, string[] Values)[] headers, bool multiValue)
    {
        var headerObject = new JsonObject();
        var parameters = new JsonObject();
        foreach (var (name, values) in headers)
        {
            headerObject[name.ToLowerInvariant()] = multiValue ? new JsonArray([.. values.Select(v => (JsonNode)JsonValue.Create(v))]) : values.Single();
        }

        foreach (var (name, value) in query)
        {
            parameters[name] = multiValue ? new JsonArray(JsonValue.Create(value)) : value;
        }

        return new JsonObject
        {
            ["requestContext"] = new JsonObject { ["elb"] = new JsonObject { ["targetGroupArn"] = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tg/abc" } },
            ["httpMethod"] = Method,
            ["path"] = path,
            [multiValue ? "multiValueQueryStringParameters" : "queryStringParameters"] = parameters,
            [multiValue ? "multiValueHeaders" : "headers"] = headerObject,
            ["body"] = "",
            ["isBase64Encoded"] = false,
        }.ToJsonString();
    }
}
