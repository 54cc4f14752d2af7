using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// The Function URL and HTTP API front doors: payload format 2.0 events (lower-case headers joined with <c>,</c>,
/// <c>cookies</c>, <c>rawQueryString</c>, decoded <c>queryStringParameters</c>, <c>requestContext</c>). The Function URL
/// streams when <see cref="LambdaEmulatorOptions.InvokeMode"/> says so; the HTTP API never streams and has a stage.
/// </summary>
internal sealed class PayloadV2Door(LambdaFrontDoor kind, LambdaEmulatorOptions options, InvocationQueue queue, InvocationLog log)
    : FrontDoor(kind, options, queue, log)
{
    private bool IsFunctionUrl => Kind == LambdaFrontDoor.FunctionUrl;

    private string Stage => IsFunctionUrl ? "$default" : Options.HttpApiStage;

    private bool HasStagePrefix => Stage != "$default";

    public override string BasePath => HasStagePrefix ? $"/{Stage}/" : "/";

    public override bool Streams => IsFunctionUrl && Options.InvokeMode == LambdaInvokeMode.ResponseStream;

    public override string BufferedHint => IsFunctionUrl
        ? "Configure the function with LambdaStreaming:InvokeMode=Buffered, or the emulator with InvokeMode=ResponseStream."
        : base.BufferedHint;

    protected override InvocationFailure? RefuseRequest(HttpContext client)
    {
        var (rawPath, _) = RawTarget(client);
        return HasStagePrefix && !rawPath.StartsWith(BasePath, StringComparison.Ordinal) && rawPath != BasePath.TrimEnd('/')
            ? new InvocationFailure(EmulatorErrorTypes.NotFound, $"The HTTP API serves stage '{Stage}' under {BasePath}.", StatusCodes.Status404NotFound)
            : null;
    }

    protected override byte[] BuildEvent(HttpContext client, byte[] body, string requestId, DateTimeOffset now)
    {
        var (rawPath, rawQuery) = RawTarget(client);
        var request = client.Request;
        return WriteJson(json =>
        {
            json.WriteStartObject();
            json.WriteString("version", "2.0");
            json.WriteString("routeKey", "$default");
            json.WriteString("rawPath", rawPath);
            json.WriteString("rawQueryString", rawQuery);

            var cookies = request.Headers.Cookie
                .SelectMany(h => (h ?? "").Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                .ToList();
            if (cookies.Count > 0)
            {
                json.WriteStartArray("cookies");
                cookies.ForEach(json.WriteStringValue);
                json.WriteEndArray();
            }

            json.WriteStartObject("headers");
            foreach (var header in request.Headers)
            {
                json.WriteString(header.Key.ToLowerInvariant(), string.Join(',', header.Value.ToArray()));
            }

            foreach (var (name, value) in AddedHeaders(client))
            {
                json.WriteString(name, value);
            }

            json.WriteEndObject();

            if (rawQuery.Length > 0)
            {
                json.WriteStartObject("queryStringParameters");
                foreach (var (name, values) in QueryHelpers.ParseQuery(rawQuery))
                {
                    json.WriteString(name, string.Join(',', values.ToArray()));
                }

                json.WriteEndObject();
            }

            json.WriteStartObject("requestContext");
            json.WriteString("accountId", Options.AccountId);
            json.WriteString("apiId", "emulator");
            // The Host header stays the local one (links the app builds work locally); the request context names the
            // domain the real front end would, which is how a function tells a Function URL from an HTTP API.
            json.WriteString("domainName", IsFunctionUrl
                ? $"emulator.lambda-url.{Options.Region}.on.aws"
                : $"emulator.execute-api.{Options.Region}.amazonaws.com");
            json.WriteString("domainPrefix", "emulator");
            json.WriteStartObject("http");
            json.WriteString("method", request.Method);
            json.WriteString("path", request.PathBase + request.Path);
            json.WriteString("protocol", request.Protocol);
            json.WriteString("sourceIp", ClientIp(client));
            json.WriteString("userAgent", request.Headers.UserAgent.ToString());
            json.WriteEndObject();
            json.WriteString("requestId", requestId);
            json.WriteString("routeKey", "$default");
            json.WriteString("stage", Stage);
            json.WriteString("time", RequestTime(now));
            json.WriteNumber("timeEpoch", now.ToUnixTimeMilliseconds());
            json.WriteEndObject();

            WriteBody(json, client, body, nullWhenEmpty: false);
            json.WriteEndObject();
        });
    }

    public override InvocationFailure? ApplyPrelude(EmulatedInvocation invocation, JsonElement? prelude)
    {
        var answer = new ClientAnswer(invocation, streaming: true);
        if (prelude is not { ValueKind: JsonValueKind.Object } document)
        {
            return answer.Refuse("The prelude must be a JSON object {\"statusCode\":…,\"headers\":{…},\"cookies\":[…]}.");
        }

        if (document.TryGetProperty("multiValueHeaders", out _))
        {
            return answer.Refuse("The prelude has multiValueHeaders: a Function URL answers 500 to it. Join repeated values into 'headers' and put cookies in 'cookies'.", StatusCodes.Status500InternalServerError);
        }

        return answer.ReadStatusCode(document, required: false) ?? answer.ReadHeaders(document) ?? answer.ReadCookies(document) ?? answer.Apply();
    }

    public override ClientAnswer ReadBuffered(EmulatedInvocation invocation, byte[] answer)
    {
        var client = new ClientAnswer(invocation, streaming: false);
        var document = ParseAnswer(answer, out _) ?? default;

        // Not an object with a statusCode: the whole answer is a 200 application/json body.
        if (document.ValueKind != JsonValueKind.Object || !document.TryGetProperty("statusCode", out _))
        {
            client.Headers.Add(new("Content-Type", "application/json"));
            client.Body = answer;
            return client;
        }

        if (document.TryGetProperty("multiValueHeaders", out _) &&
            client.Flag($"The answer has multiValueHeaders, which the {Describe()} ignores: use 'headers' (values joined with ', ') and 'cookies'.") is { } ignored)
        {
            return client.Failed(ignored);
        }

        return client.Failed(client.ReadStatusCode(document, required: true) ?? client.ReadHeaders(document) ?? client.ReadCookies(document) ?? client.ReadBody(document));
    }
}
