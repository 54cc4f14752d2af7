using System.Security.Claims;
using System.Text;
using System.Text.Json;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Tests.Events;

/// <summary>
/// Golden events (real captures and AWS-documented shapes the emulator's front doors do not produce: authorizers,
/// mutual TLS, malformed events) through the real Lambda server and app, over a loopback Runtime API.
/// </summary>
public sealed class EndToEndGoldenEventTests : IAsyncLifetime
{
    private readonly FakeRuntimeApi _api = new();
    private WebApplication _app = null!;

    public async Task InitializeAsync() =>
        _app = await TestApp.StartAsync(_api, app => app.Run(async context =>
        {
            var user = context.User;
            var certificate = await context.Connection.GetClientCertificateAsync();
            context.Response.ContentType = "text/plain";
            context.Response.Cookies.Append("a", "1");
            context.Response.Cookies.Append("b", "2");
            await context.Response.WriteAsync(string.Join('\n',
                $"auth={user.Identity?.AuthenticationType}",
                $"name={user.Identity?.Name}",
                $"email={user.FindFirstValue("email")}",
                $"scopes={string.Join(' ', user.FindAll("scope").Select(c => c.Value))}",
                $"cert={certificate?.Subject}",
                $"pathBase={context.Request.PathBase}",
                $"path={context.Request.Path}"));
        }), options =>
        {
            options.InvokeMode = LambdaInvokeMode.Buffered;
            options.MapIdentityToUser = true;
        });

    public async Task DisposeAsync()
    {
        await _app.StopAsync().Within();
        await _app.DisposeAsync();
        await _api.DisposeAsync();
    }

    private async Task<(JsonElement Document, Dictionary<string, string> Echo)> InvokeAsync(string goldenEvent)
    {
        var answer = await _api.Enqueue(Encoding.UTF8.GetString(GoldenEvents.Read(goldenEvent))).Answer.Within();
        await answer.Completed.Within();
        Assert.Equal("response", answer.Action);
        var document = JsonDocument.Parse(answer.Request.Body).RootElement.Clone();
        return (document, EndToEndHost.ParseEcho(document.GetProperty("body").GetString()!));
    }

    [Fact]
    public async Task Rest_cognito_claims_client_certificate_and_stage_reach_the_app()
    {
        var (document, echo) = await InvokeAsync("rest_api_stage_cognito_mtls.json");

        Assert.Equal("RestApiAuthorizer", echo["auth"]);
        Assert.Equal("7d8ca528-4931-4254-9273-ea5ee853f271", echo["name"]);
        Assert.Equal("alice@example.com", echo["email"]);
        Assert.Equal("CN=client.example.com, O=Example Corp, C=US", echo["cert"]);
        Assert.Equal("/prod", echo["pathBase"]);
        Assert.Equal("/orders/42/lines", echo["path"]);
        // REST answers: cookies one per value in multiValueHeaders.
        Assert.Equal(2, document.GetProperty("multiValueHeaders").GetProperty("Set-Cookie").GetArrayLength());
    }

    [Fact]
    public async Task Http_api_jwt_claims_reach_the_app()
    {
        var (document, echo) = await InvokeAsync("apigw_v2_proxy_request_with_stage_in_path.json");

        Assert.Equal("HttpApiJwt", echo["auth"]);
        Assert.Equal("scope1 scope2", echo["scopes"]);
        Assert.Equal("/Prod", echo["pathBase"]);
        Assert.Equal(["a=1; path=/", "b=2; path=/"], document.GetProperty("cookies").EnumerateArray().Select(c => c.GetString()));
    }

    [Fact]
    public async Task Function_url_iam_identity_reaches_the_app()
    {
        var (_, echo) = await InvokeAsync("function_url_iam.json");

        Assert.Equal("FunctionUrlIam", echo["auth"]);
        Assert.Equal("arn:aws:iam::111122223333:user/reporter", echo["name"]);
    }

    [Fact]
    public async Task Alb_answer_has_status_description()
    {
        var (document, _) = await InvokeAsync("alb_request.json");

        Assert.Equal("200 OK", document.GetProperty("statusDescription").GetString());
        Assert.Equal("b=2; path=/", document.GetProperty("headers").GetProperty("Set-Cookie").GetString());
    }

    [Fact]
    public async Task Malformed_events_become_lambda_errors_and_the_next_event_is_served()
    {
        var invalidJson = await _api.Enqueue("{\"version\":").Answer.Within();
        var unknownShape = await _api.Enqueue("""{"Records":[]}""").Answer.Within();
        var badBase64 = await _api.Enqueue("""{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"POST"}},"body":"@@@","isBase64Encoded":true}""").Answer.Within();
        var (_, echo) = await InvokeAsync("lambda_function_url_request.json");

        Assert.Equal("error", invalidJson.Action);
        await invalidJson.Completed.Within();
        Assert.Equal("LambdaStreaming.InvalidEventJson", invalidJson.Request.Headers["Lambda-Runtime-Function-Error-Type"]);
        Assert.Equal("LambdaStreaming.UnknownEventShape", unknownShape.Request.Headers["Lambda-Runtime-Function-Error-Type"]);
        Assert.Equal("LambdaStreaming.InvalidEventBase64", badBase64.Request.Headers["Lambda-Runtime-Function-Error-Type"]);
        await badBase64.Completed.Within();
        Assert.Equal("LambdaStreaming.InvalidEventBase64", JsonDocument.Parse(badBase64.Request.Body).RootElement.GetProperty("errorType").GetString());
        Assert.Equal("/my/path", echo["path"]);
    }
}
