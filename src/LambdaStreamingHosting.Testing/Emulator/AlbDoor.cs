using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// The Application Load Balancer front door: <c>requestContext.elb</c>, <c>headers</c> or <c>multiValueHeaders</c>
/// (<see cref="LambdaEmulatorOptions.AlbMultiValueHeaders"/>; the answer must use the same style), query values passed
/// still URL-encoded, 1 MB each way, never streams; the answer may set <c>statusDescription</c>.
/// </summary>
internal sealed class AlbDoor(LambdaEmulatorOptions options, InvocationQueue queue, InvocationLog log)
    : FrontDoor(LambdaFrontDoor.ApplicationLoadBalancer, options, queue, log)
{
    public override bool Streams => false;

    protected override int MaxRequestBodyBytes => Options.MaxAlbBodyBytes;

    private bool MultiValue => Options.AlbMultiValueHeaders;

    protected override (string ContentType, string Text) ErrorBody(InvocationFailure failure) =>
        ("text/html", $"<html><head><title>{failure.ClientStatusCode}</title></head><body><center><h1>{failure.ClientStatusCode}</h1></center></body></html>");

    protected override byte[] BuildEvent(HttpContext client, byte[] body, string requestId, DateTimeOffset now)
    {
        var request = client.Request;
        var (rawPath, rawQuery) = RawTarget(client);
        var query = ParseRawQuery(rawQuery);
        var headers = request.Headers.Select(h => new KeyValuePair<string, StringValues>(h.Key.ToLowerInvariant(), h.Value))
            .Concat(AddedHeaders(client).Select(h => new KeyValuePair<string, StringValues>(h.Key, h.Value)))
            .ToList();
        return WriteJson(json =>
        {
            json.WriteStartObject();
            json.WriteStartObject("requestContext");
            json.WriteStartObject("elb");
            json.WriteString("targetGroupArn", $"arn:aws:elasticloadbalancing:{Options.Region}:{Options.AccountId}:targetgroup/{Options.FunctionName}/0123456789abcdef");
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteString("httpMethod", request.Method);
            json.WriteString("path", rawPath);
            if (MultiValue)
            {
                WriteMultiValue(json, "multiValueQueryStringParameters", query);
                WriteMultiValue(json, "multiValueHeaders", headers);
            }
            else
            {
                WriteSingleValue(json, "queryStringParameters", query);
                WriteSingleValue(json, "headers", headers);
            }

            var text = IsTextBody(request.ContentType);
            json.WriteString("body", body.Length == 0 ? "" : text ? System.Text.Encoding.UTF8.GetString(body) : Convert.ToBase64String(body));
            json.WriteBoolean("isBase64Encoded", body.Length > 0 && !text);
            json.WriteEndObject();
        });
    }

    public override ClientAnswer ReadBuffered(EmulatedInvocation invocation, byte[] answer)
    {
        var client = new ClientAnswer(invocation, streaming: false);
        if (ParseAnswer(answer, out var error) is not { ValueKind: JsonValueKind.Object } document)
        {
            return client.Failed(client.Refuse(error is not null
                ? $"The load balancer got an answer that is not JSON ({error})."
                : "The load balancer's answer must be a JSON object with statusCode."));
        }

        var used = MultiValue ? "multiValueHeaders" : "headers";
        var ignored = MultiValue ? "headers" : "multiValueHeaders";
        if (document.TryGetProperty(ignored, out var other) && other.ValueKind != JsonValueKind.Null &&
            client.Flag($"The answer has '{ignored}', but the target group has multi-value headers {(MultiValue ? "on" : "off")}: the load balancer ignores it and reads only '{used}'.") is { } flagged)
        {
            return client.Failed(flagged);
        }

        if (document.TryGetProperty("statusDescription", out var description) && description.ValueKind == JsonValueKind.String)
        {
            var text = description.GetString()!;
            var space = text.IndexOf(' ', StringComparison.Ordinal);
            client.ReasonPhrase = space >= 0 ? text[(space + 1)..] : null;
        }

        var failure = client.ReadStatusCode(document, required: true)
            ?? (MultiValue ? client.ReadMultiValueHeaders(document) : client.ReadHeaders(document))
            ?? client.ReadBody(document);
        if (failure is not null)
        {
            return client.Failed(failure);
        }

        if (client.Body.Length > Options.MaxAlbBodyBytes)
        {
            return client.Failed(client.Refuse($"The answer's body is {client.Body.Length} bytes; a load balancer accepts at most {Options.MaxAlbBodyBytes}."));
        }

        return client;
    }

    /// <summary>Splits the query without decoding its values, as the load balancer does.</summary>
    private static List<KeyValuePair<string, StringValues>> ParseRawQuery(string rawQuery)
    {
        var result = new List<KeyValuePair<string, StringValues>>();
        foreach (var pair in rawQuery.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? pair : pair[..equals];
            var value = equals < 0 ? "" : pair[(equals + 1)..];
            var index = result.FindIndex(p => p.Key == name);
            if (index < 0)
            {
                result.Add(new(name, value));
            }
            else
            {
                result[index] = new(name, StringValues.Concat(result[index].Value, value));
            }
        }

        return result;
    }

    private static void WriteSingleValue(Utf8JsonWriter json, string property, List<KeyValuePair<string, StringValues>> values)
    {
        json.WriteStartObject(property);
        foreach (var (name, value) in values)
        {
            json.WriteString(name, value[value.Count - 1]);
        }

        json.WriteEndObject();
    }

    private static void WriteMultiValue(Utf8JsonWriter json, string property, List<KeyValuePair<string, StringValues>> values)
    {
        json.WriteStartObject(property);
        foreach (var (name, value) in values)
        {
            json.WriteStartArray(name);
            foreach (var item in value)
            {
                json.WriteStringValue(item);
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
    }
}
