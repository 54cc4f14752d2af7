using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// The API Gateway REST API front door (Lambda proxy integration, payload 1.0) on a <c>{proxy+}</c> resource under
/// one stage. Buffered by default; with <see cref="LambdaEmulatorOptions.RestApiStreaming"/> it uses
/// <c>responseTransferMode: STREAM</c> and the prelude may carry <c>multiValueHeaders</c>.
/// </summary>
internal sealed class RestApiDoor(LambdaEmulatorOptions options, InvocationQueue queue, InvocationLog log)
    : FrontDoor(LambdaFrontDoor.RestApi, options, queue, log)
{
    /// <summary>Identity fields API Gateway sends as null for an unauthenticated caller.</summary>
    private static readonly string[] UnauthenticatedIdentityFields =
    [
        "cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "apiKey", "apiKeyId", "accessKey",
        "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn", "user",
    ];

    public override string BasePath => $"/{Options.RestApiStage}/";

    public override bool Streams => Options.RestApiStreaming;

    public override string StreamingHint => "Configure the function with LambdaStreaming:InvokeMode=ResponseStream, or turn off RestApiStreaming in the emulator.";

    public override string BufferedHint => "Configure the function with LambdaStreaming:InvokeMode=Buffered, or turn on RestApiStreaming in the emulator.";

    protected override InvocationFailure? RefuseRequest(HttpContext client)
    {
        var (rawPath, _) = RawTarget(client);
        return rawPath.StartsWith(BasePath, StringComparison.Ordinal) || rawPath == BasePath.TrimEnd('/')
            ? null
            : new InvocationFailure(EmulatorErrorTypes.Forbidden, $"The REST API serves stage '{Options.RestApiStage}' under {BasePath}.", StatusCodes.Status403Forbidden);
    }

    protected override (string ContentType, string Text) ErrorBody(InvocationFailure failure) =>
        failure.ClientStatusCode == StatusCodes.Status502BadGateway
            ? ("application/json", "{\"message\": \"Internal server error\"}")
            : base.ErrorBody(failure);

    protected override byte[] BuildEvent(HttpContext client, byte[] body, string requestId, DateTimeOffset now)
    {
        var request = client.Request;
        var stagePath = "/" + Options.RestApiStage;
        var fullPath = (request.PathBase + request.Path).Value ?? "/";
        var path = fullPath.Length > stagePath.Length ? fullPath[stagePath.Length..] : "/";
        var proxy = path.TrimStart('/');
        var (_, rawQuery) = RawTarget(client);
        var query = QueryHelpers.ParseQuery(rawQuery);
        var headers = request.Headers.Select(h => new KeyValuePair<string, StringValues>(h.Key, h.Value))
            .Concat(AddedHeaders(client).Select(h => new KeyValuePair<string, StringValues>(h.Key, h.Value)))
            .ToList();
        return WriteJson(json =>
        {
            json.WriteStartObject();
            json.WriteString("resource", proxy.Length == 0 ? "/" : "/{proxy+}");
            json.WriteString("path", path);
            json.WriteString("httpMethod", request.Method);
            json.WriteStartObject("headers");
            foreach (var (name, values) in headers)
            {
                json.WriteString(name, values[values.Count - 1]);
            }

            json.WriteEndObject();
            json.WriteStartObject("multiValueHeaders");
            foreach (var (name, values) in headers)
            {
                WriteArray(json, name, values);
            }

            json.WriteEndObject();
            if (query.Count == 0)
            {
                json.WriteNull("queryStringParameters");
                json.WriteNull("multiValueQueryStringParameters");
            }
            else
            {
                json.WriteStartObject("queryStringParameters");
                foreach (var (name, values) in query)
                {
                    json.WriteString(name, values[values.Count - 1]);
                }

                json.WriteEndObject();
                json.WriteStartObject("multiValueQueryStringParameters");
                foreach (var (name, values) in query)
                {
                    WriteArray(json, name, values);
                }

                json.WriteEndObject();
            }

            if (proxy.Length == 0)
            {
                json.WriteNull("pathParameters");
            }
            else
            {
                json.WriteStartObject("pathParameters");
                json.WriteString("proxy", proxy);
                json.WriteEndObject();
            }

            json.WriteNull("stageVariables");
            json.WriteStartObject("requestContext");
            json.WriteString("accountId", Options.AccountId);
            json.WriteString("apiId", "emulator");
            json.WriteString("domainName", request.Host.Host);
            json.WriteString("domainPrefix", request.Host.Host.Split('.')[0]);
            json.WriteString("extendedRequestId", requestId);
            json.WriteString("httpMethod", request.Method);
            json.WriteStartObject("identity");
            foreach (var unknown in UnauthenticatedIdentityFields)
            {
                json.WriteNull(unknown);
            }

            json.WriteString("sourceIp", ClientIp(client));
            json.WriteString("userAgent", request.Headers.UserAgent.ToString());
            json.WriteEndObject();
            json.WriteString("path", fullPath);
            json.WriteString("protocol", request.Protocol);
            json.WriteString("requestId", requestId);
            json.WriteString("requestTime", RequestTime(now));
            json.WriteNumber("requestTimeEpoch", now.ToUnixTimeMilliseconds());
            json.WriteString("resourceId", "proxy");
            json.WriteString("resourcePath", proxy.Length == 0 ? "/" : "/{proxy+}");
            json.WriteString("stage", Options.RestApiStage);
            json.WriteEndObject();
            WriteBody(json, client, body, nullWhenEmpty: true);
            json.WriteEndObject();
        });
    }

    public override InvocationFailure? ApplyPrelude(EmulatedInvocation invocation, JsonElement? prelude)
    {
        var answer = new ClientAnswer(invocation, streaming: true);
        if (prelude is not { ValueKind: JsonValueKind.Object } document)
        {
            return answer.Refuse("The prelude must be a JSON object {\"statusCode\":…,\"headers\":{…},\"multiValueHeaders\":{…}}.");
        }

        return answer.ReadStatusCode(document, required: false) ?? answer.ReadHeaders(document) ?? answer.ReadMultiValueHeaders(document)
            ?? answer.ReadCookies(document) ?? answer.Apply();
    }

    public override ClientAnswer ReadBuffered(EmulatedInvocation invocation, byte[] answer)
    {
        var client = new ClientAnswer(invocation, streaming: false);
        if (ParseAnswer(answer, out var error) is not { ValueKind: JsonValueKind.Object } document)
        {
            return client.Failed(client.Refuse(error is not null
                ? $"Malformed Lambda proxy response: not JSON ({error})."
                : "Malformed Lambda proxy response: the answer must be a JSON object with statusCode."));
        }

        return client.Failed(client.ReadStatusCode(document, required: true) ?? client.ReadHeaders(document) ?? client.ReadMultiValueHeaders(document)
            ?? client.ReadBody(document) );
    }

    private static void WriteArray(Utf8JsonWriter json, string name, StringValues values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}
