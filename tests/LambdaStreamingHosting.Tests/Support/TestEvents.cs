using System.Text.Json.Nodes;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>Function URL (payload 2.0) and ALB events, shaped like the real captures in /work/shared/events.</summary>
public static class TestEvents
{
    public static string FunctionUrl(string method = "GET", string path = "/", string query = "", string? body = null, bool base64 = false,
        IDictionary<string, string>? headers = null, IReadOnlyList<string>? cookies = null)
    {
        var headerObject = new JsonObject
        {
            ["host"] = "abc.lambda-url.eu-west-1.on.aws",
            ["x-forwarded-proto"] = "https",
            ["x-forwarded-port"] = "443",
            ["x-forwarded-for"] = "203.0.113.7",
            ["user-agent"] = "test",
        };
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            headerObject[name.ToLowerInvariant()] = value;
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
                ["accountId"] = "123456789012",
                ["apiId"] = "abc",
                ["domainName"] = "abc.lambda-url.eu-west-1.on.aws",
                ["domainPrefix"] = "abc",
                ["http"] = new JsonObject
                {
                    ["method"] = method,
                    ["path"] = path,
                    ["protocol"] = "HTTP/1.1",
                    ["sourceIp"] = "203.0.113.7",
                    ["userAgent"] = "test",
                },
                ["requestId"] = "req-" + Guid.NewGuid().ToString("N"),
                ["routeKey"] = "$default",
                ["stage"] = "$default",
                ["time"] = "11/Jan/2023:11:45:34 +0000",
                ["timeEpoch"] = 1673437534837,
            },
            ["isBase64Encoded"] = base64,
        };
        if (cookies is not null)
        {
            root["cookies"] = new JsonArray([.. cookies.Select(c => (JsonNode)JsonValue.Create(c))]);
        }

        if (body is not null)
        {
            root["body"] = body;
        }

        return root.ToJsonString();
    }

    public static string Alb(string method = "GET", string path = "/") => new JsonObject
    {
        ["requestContext"] = new JsonObject { ["elb"] = new JsonObject { ["targetGroupArn"] = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tg/abc" } },
        ["httpMethod"] = method,
        ["path"] = path,
        ["queryStringParameters"] = new JsonObject(),
        ["headers"] = new JsonObject { ["host"] = "lb.example.com", ["x-forwarded-proto"] = "https", ["x-forwarded-for"] = "203.0.113.7", ["x-forwarded-port"] = "443" },
        ["body"] = "",
        ["isBase64Encoded"] = false,
    }.ToJsonString();
}
