namespace LambdaStreamingHosting.Events;

/// <summary>
/// The fields of every HTTP event shape we understand (payload 2.0, REST payload 1.0, ALB) as <see cref="EventParser"/>
/// found them: where each value is in the event bytes, not the values themselves. Which fields are present tells the
/// shape apart. Fields we do not model are skipped, so their types cannot fail an invocation; modelled ones are
/// type-checked even when the request does not need them. When a field appears twice, the last one counts (as for the
/// JSON serializer).
/// </summary>
internal struct EventFields
{
    /// <summary><c>"2.0"</c> for payload 2.0; <c>"1.0"</c> or absent otherwise.</summary>
    public JsonSlice Version;

    /// <summary>Payload 2.0: the path as the front end passes it.</summary>
    public JsonSlice RawPath;

    /// <summary>Payload 2.0: the query string without <c>?</c>, still encoded.</summary>
    public JsonSlice RawQueryString;

    /// <summary>Payload 2.0: an array of one <c>name=value</c> per request cookie.</summary>
    public JsonSlice Cookies;

    /// <summary>REST and ALB: the method.</summary>
    public JsonSlice HttpMethod;

    /// <summary>REST: the path without stage or base path. ALB: the path as sent.</summary>
    public JsonSlice Path;

    /// <summary>Single-value headers, an object (payload 2.0: repeated headers joined with commas).</summary>
    public JsonSlice Headers;

    /// <summary>REST and multi-value ALB: every value of every header, an object of arrays.</summary>
    public JsonSlice MultiValueHeaders;

    /// <summary>Query parameters, an object (REST: decoded; ALB: as sent).</summary>
    public JsonSlice QueryStringParameters;

    /// <summary>REST and multi-value ALB: every value of every query parameter, an object of arrays.</summary>
    public JsonSlice MultiValueQueryStringParameters;

    /// <summary>The body string, still base64 when <see cref="IsBase64Encoded"/>.</summary>
    public JsonSlice Body;

    /// <summary>Whether <see cref="Body"/> is base64.</summary>
    public bool IsBase64Encoded;

    /// <summary>Whether <c>requestContext</c> is present (an object).</summary>
    public bool HasRequestContext;

    /// <summary>The front end's request context.</summary>
    public RequestContextFields RequestContext;
}

/// <summary><c>requestContext</c> of every shape, flattened.</summary>
internal struct RequestContextFields
{
    /// <summary>REST: the path with stage or base path.</summary>
    public JsonSlice Path;

    /// <summary>REST and HTTP API: the stage name.</summary>
    public JsonSlice Stage;

    /// <summary>The host name the caller used.</summary>
    public JsonSlice DomainName;

    /// <summary>Payload 2.0: <c>$default</c> or the matched route.</summary>
    public JsonSlice RouteKey;

    /// <summary>REST: the protocol, e.g. <c>HTTP/1.1</c>.</summary>
    public JsonSlice Protocol;

    /// <summary>REST: <c>identity.sourceIp</c>, the caller.</summary>
    public JsonSlice IdentitySourceIp;

    /// <summary>REST: <c>identity.clientCert.clientCertPem</c>, the mutual-TLS client certificate.</summary>
    public JsonSlice IdentityClientCertPem;

    /// <summary>Payload 2.0: whether <c>http</c> is present (an object).</summary>
    public bool HasHttp;

    /// <summary>Payload 2.0: <c>http.method</c>.</summary>
    public JsonSlice HttpMethod;

    /// <summary>Payload 2.0: <c>http.path</c> (same as <c>rawPath</c>).</summary>
    public JsonSlice HttpPath;

    /// <summary>Payload 2.0: <c>http.protocol</c>, e.g. <c>HTTP/1.1</c>.</summary>
    public JsonSlice HttpProtocol;

    /// <summary>Payload 2.0: <c>http.sourceIp</c>, the caller.</summary>
    public JsonSlice HttpSourceIp;

    /// <summary>ALB: whether <c>elb</c> is present (an object); it is for every ALB event.</summary>
    public bool HasElb;

    /// <summary>Payload 2.0 with mutual TLS: <c>authentication.clientCert.clientCertPem</c>.</summary>
    public JsonSlice AuthenticationClientCertPem;

    /// <summary>
    /// REST: <c>claims</c> or a Lambda authorizer's context; HTTP API: <c>jwt</c>, <c>iam</c> or <c>lambda</c>. An object,
    /// read only when <see cref="LambdaStreamingOptions.MapIdentityToUser"/> is on.
    /// </summary>
    public JsonSlice Authorizer;
}
