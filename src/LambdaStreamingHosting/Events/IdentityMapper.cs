using System.Security.Claims;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace LambdaStreamingHosting.Events;

/// <summary>The caller's identity and client certificate, as the front end authenticated them.</summary>
internal static class IdentityMapper
{
    /// <summary>Authentication type of REST API authorizer claims (Cognito) or Lambda authorizer context.</summary>
    public const string RestApiAuthorizer = "RestApiAuthorizer";

    /// <summary>Authentication type of HTTP API JWT authorizer claims and scopes.</summary>
    public const string HttpApiJwt = "HttpApiJwt";

    /// <summary>Authentication type of an HTTP API Lambda authorizer's context.</summary>
    public const string HttpApiLambdaAuthorizer = "HttpApiLambdaAuthorizer";

    /// <summary>Authentication type of an HTTP API's IAM (SigV4) caller.</summary>
    public const string HttpApiIam = "HttpApiIam";

    /// <summary>Authentication type of a Function URL's IAM (<c>AWS_IAM</c> auth) caller.</summary>
    public const string FunctionUrlIam = "FunctionUrlIam";

    /// <summary>
    /// The principal for <c>requestContext.authorizer</c>, or <see langword="null"/> when there is none. Every claim
    /// keeps its name; string values are taken as they are, numbers and booleans as their JSON text, arrays as one claim
    /// per element, objects as their JSON text.
    /// </summary>
    /// <param name="authorizerJson">The <c>authorizer</c> object's JSON, as it is in the event (the event parser checked it).</param>
    /// <param name="source">The front end the event came from.</param>
    public static ClaimsPrincipal? MapUser(ReadOnlyMemory<byte> authorizerJson, LambdaEventSource source)
    {
        using var document = JsonDocument.Parse(authorizerJson);

        // A name the event repeats keeps its first place and its last value.
        var authorizer = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            authorizer[property.Name] = property.Value;
        }

        // The claims are strings: nothing refers to the document once they are made.
        return authorizer.Count == 0 ? null : MapUser(authorizer, source);
    }

    private static ClaimsPrincipal? MapUser(Dictionary<string, JsonElement> authorizer, LambdaEventSource source)
    {

        if (source == LambdaEventSource.RestApi)
        {
            return authorizer.TryGetValue("claims", out var claims) && claims.ValueKind == JsonValueKind.Object
                ? Principal(RestApiAuthorizer, "sub", ClaimsOf(claims.EnumerateObject()))
                : Principal(RestApiAuthorizer, "principalId", ClaimsOf(authorizer.Where(p => p.Key != "integrationLatency")));
        }

        if (authorizer.TryGetValue("jwt", out var jwt) && jwt.ValueKind == JsonValueKind.Object)
        {
            var jwtClaims = jwt.TryGetProperty("claims", out var c) && c.ValueKind == JsonValueKind.Object
                ? ClaimsOf(c.EnumerateObject())
                : [];
            if (jwt.TryGetProperty("scopes", out var scopes) && scopes.ValueKind == JsonValueKind.Array)
            {
                jwtClaims.AddRange(ValuesOf(scopes).Select(scope => new Claim("scope", scope)));
            }

            return Principal(HttpApiJwt, "sub", jwtClaims);
        }

        if (authorizer.TryGetValue("iam", out var iam) && iam.ValueKind == JsonValueKind.Object)
        {
            var type = source == LambdaEventSource.FunctionUrl ? FunctionUrlIam : HttpApiIam;
            return Principal(type, "userArn", ClaimsOf(iam.EnumerateObject()));
        }

        if (authorizer.TryGetValue("lambda", out var lambda) && lambda.ValueKind == JsonValueKind.Object)
        {
            return Principal(HttpApiLambdaAuthorizer, ClaimTypes.Name, ClaimsOf(lambda.EnumerateObject()));
        }

        return null;
    }

    /// <summary>
    /// The mutual-TLS client certificate from its PEM, or <see langword="null"/> when there is none or it cannot be read
    /// (the request is still served; the front end already checked the certificate).
    /// </summary>
    public static X509Certificate2? MapClientCertificate(string? pem)
    {
        if (string.IsNullOrWhiteSpace(pem))
        {
            return null;
        }

        try
        {
            return X509Certificate2.CreateFromPem(pem);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    private static ClaimsPrincipal Principal(string authenticationType, string nameType, List<Claim> claims) =>
        new(new ClaimsIdentity(claims, authenticationType, nameType, ClaimTypes.Role));

    private static List<Claim> ClaimsOf(IEnumerable<JsonProperty> properties) =>
        ClaimsOf(properties.Select(p => new KeyValuePair<string, JsonElement>(p.Name, p.Value)));

    private static List<Claim> ClaimsOf(IEnumerable<KeyValuePair<string, JsonElement>> properties)
    {
        var claims = new List<Claim>();
        foreach (var (name, value) in properties)
        {
            claims.AddRange(ValuesOf(value).Select(v => new Claim(name, v)));
        }

        return claims;
    }

    private static IEnumerable<string> ValuesOf(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => [value.GetString()!],
        JsonValueKind.Array => value.EnumerateArray().SelectMany(ValuesOf),
        JsonValueKind.Null or JsonValueKind.Undefined => [],
        _ => [value.GetRawText()],
    };
}
