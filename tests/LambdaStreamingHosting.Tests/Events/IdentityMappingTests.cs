using System.Security.Claims;
using LambdaStreamingHosting.Events;

namespace LambdaStreamingHosting.Tests.Events;

public class IdentityMappingTests
{
    private static readonly LambdaStreamingOptions MapUser = new() { MapIdentityToUser = true };

    [Fact]
    public void Http_api_jwt_claims_and_scopes_become_the_user()
    {
        var user = GoldenEvents.Map("example-apigw-v2-request-jwt-authorizer.json", MapUser).User!;

        Assert.Equal(IdentityMapper.HttpApiJwt, user.Identity!.AuthenticationType);
        Assert.True(user.Identity.IsAuthenticated);
        Assert.Contains(user.Claims, c => c.Type != "scope");
        Assert.NotEmpty(user.FindAll("scope"));
    }

    [Fact]
    public void Http_api_jwt_capture_claims_are_kept_by_name()
    {
        var user = GoldenEvents.Map("apigw_v2_proxy_request_with_stage_in_path.json", MapUser).User!;

        Assert.Equal("value1", user.FindFirstValue("claim1"));
        Assert.Equal("value2", user.FindFirstValue("claim2"));
        Assert.Equal(["scope1", "scope2"], user.FindAll("scope").Select(c => c.Value));
    }

    [Fact]
    public void Function_url_iam_identity_becomes_the_user()
    {
        var request = GoldenEvents.Map("function_url_iam.json", MapUser);
        var user = request.User!;

        Assert.Equal(LambdaEventSource.FunctionUrl, request.Source);
        Assert.Equal(IdentityMapper.FunctionUrlIam, user.Identity!.AuthenticationType);
        Assert.Equal("arn:aws:iam::111122223333:user/reporter", user.Identity.Name);
        Assert.Equal("111122223333", user.FindFirstValue("accountId"));
        Assert.Equal("o-abcdef1234", user.FindFirstValue("principalOrgId"));
        Assert.Null(user.FindFirst("cognitoIdentity"));
        Assert.Equal("a=1; b=2", request.Headers["Cookie"].ToString());
    }

    [Fact]
    public void Http_api_iam_identity_is_named_for_the_http_api()
    {
        var user = GoldenEvents.Map("example-apigw-v2-request-iam.json", MapUser).User!;

        Assert.Equal(IdentityMapper.HttpApiIam, user.Identity!.AuthenticationType);
        Assert.Equal("arn:aws:iam::1234567890:user/Admin", user.Identity.Name);
        // A nested object stays readable as its JSON text.
        Assert.Contains("identityPoolId", user.FindFirstValue("cognitoIdentity"), StringComparison.Ordinal);
    }

    [Fact]
    public void Http_api_lambda_authorizer_context_becomes_claims()
    {
        var user = GoldenEvents.Map("example-apigw-v2-request-lambda-authorizer.json", MapUser).User!;

        Assert.Equal(IdentityMapper.HttpApiLambdaAuthorizer, user.Identity!.AuthenticationType);
        Assert.Equal("value", user.FindFirstValue("key"));
    }

    [Fact]
    public void No_authorizer_means_no_user()
    {
        Assert.Null(GoldenEvents.Map("lambda_function_url_request.json", MapUser).User);
        Assert.Null(GoldenEvents.Map("alb_request.json", MapUser).User);
    }

    [Fact]
    public void Unreadable_client_certificate_pem_is_ignored()
    {
        // The capture's PEM is truncated ("MIIEZTCCAk0CAQEwDQ..."): the request is still served.
        var request = GoldenEvents.Map("example-apigw-v2-request-no-authorizer.json");

        Assert.Null(request.ClientCertificate);
    }
}
