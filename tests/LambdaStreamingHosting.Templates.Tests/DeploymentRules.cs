using System.Globalization;
using System.Text.Json.Nodes;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// What every deployment of the example must satisfy, checked on the resources CloudFormation would create (the SAM
/// template evaluated for one parameter combination, or a stack the CDK app synthesized). Each broken rule is one line
/// starting with the rule's name: the tests break each rule on purpose and expect its name.
/// </summary>
internal static class DeploymentRules
{
    public const string Mode = "mode";
    public const string EntryPoint = "entry-point";
    public const string Distribution = "distribution";
    public const string Permissions = "permissions";
    public const string Alias = "alias";
    public const string SnapStart = "snapstart";
    public const string Vpc = "vpc";
    public const string Database = "database";
    public const string ForwardedHost = "forwarded-host";

    /// <summary>CloudFront's managed CachingDisabled cache policy.</summary>
    public const string CachingDisabledPolicy = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";

    /// <summary>CloudFront's managed AllViewerExceptHostHeader origin request policy.</summary>
    public const string AllViewerExceptHostHeaderPolicy = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

    private static readonly string InvokeModeVariable = $"{LambdaStreamingOptions.ConfigurationSectionName}__{nameof(LambdaStreamingOptions.InvokeMode)}";
    private static readonly string EventSourceVariable = $"{LambdaStreamingOptions.ConfigurationSectionName}__{nameof(LambdaStreamingOptions.EventSource)}";

    public static IReadOnlyList<string> Check(IReadOnlyDictionary<string, DeployedResource> resources)
    {
        var broken = new List<string>();
        void Fail(string rule, string what) => broken.Add($"{rule}: {what}");

        var functions = Of(resources, "AWS::Serverless::Function", "AWS::Lambda::Function");
        if (functions.Count != 1)
        {
            Fail(EntryPoint, $"{functions.Count} functions, expected one");
            return broken;
        }

        var (functionId, function) = functions[0];
        var variables = Map(Map(function.Properties.GetValueOrDefault("Environment"))?.GetValueOrDefault("Variables")) ?? [];
        var urls = Of(resources, "AWS::Lambda::Url");
        var apis = Of(resources, "AWS::ApiGateway::RestApi");
        var methods = Of(resources, "AWS::ApiGateway::Method");
        var distributions = Of(resources, "AWS::CloudFront::Distribution");
        var permissions = Of(resources, "AWS::Lambda::Permission");

        // The alias the front door calls: SAM's AutoPublishAlias, or an AWS::Lambda::Alias.
        var aliases = Of(resources, "AWS::Lambda::Alias");
        var aliasName = function.Properties.GetValueOrDefault("AutoPublishAlias") as string ?? (aliases.Count == 1 ? aliases[0].Resource.Properties.GetValueOrDefault("Name") as string : null);
        var aliasReference = function.Properties.ContainsKey("AutoPublishAlias") ? $"Ref:{functionId}.Alias" : aliases.Count == 1 ? $"Ref:{aliases[0].Id}" : null;

        // Mode: the front door's mode is the app's InvokeMode, and the app knows which front door it serves.
        LambdaInvokeMode? appMode = Enum.TryParse<LambdaInvokeMode>(variables.GetValueOrDefault(InvokeModeVariable) as string, ignoreCase: false, out var parsedMode) && Enum.IsDefined(parsedMode) ? parsedMode : null;
        LambdaEventSource? eventSource = Enum.TryParse<LambdaEventSource>(variables.GetValueOrDefault(EventSourceVariable) as string, ignoreCase: false, out var parsedSource) && Enum.IsDefined(parsedSource) ? parsedSource : null;
        if (appMode is null)
        {
            Fail(Mode, $"the app's {InvokeModeVariable} is '{variables.GetValueOrDefault(InvokeModeVariable)}', not a LambdaInvokeMode");
        }

        foreach (var (id, url) in urls)
        {
            var expected = appMode == LambdaInvokeMode.ResponseStream ? "RESPONSE_STREAM" : "BUFFERED";
            if (url.Properties.GetValueOrDefault("InvokeMode") as string != expected)
            {
                Fail(Mode, $"{id}'s InvokeMode is '{url.Properties.GetValueOrDefault("InvokeMode")}' but the app's is {appMode}");
            }

            if (eventSource != LambdaEventSource.FunctionUrl)
            {
                Fail(Mode, $"the app's {EventSourceVariable} is '{eventSource}' behind a Function URL");
            }
        }

        foreach (var (id, method) in methods)
        {
            var integration = Map(method.Properties.GetValueOrDefault("Integration")) ?? [];
            var streams = (integration.GetValueOrDefault("ResponseTransferMode") as string ?? "BUFFERED") == "STREAM";
            var uri = integration.GetValueOrDefault("Uri") as string ?? "";
            if (streams != (appMode == LambdaInvokeMode.ResponseStream))
            {
                Fail(Mode, $"{id} {(streams ? "streams" : "buffers")} but the app's InvokeMode is {appMode}");
            }

            if (streams != uri.EndsWith("/response-streaming-invocations", StringComparison.Ordinal) || !(uri.EndsWith("/invocations", StringComparison.Ordinal) || uri.EndsWith("/response-streaming-invocations", StringComparison.Ordinal)))
            {
                Fail(Mode, $"{id}'s integration URI '{uri}' does not match its transfer mode ({(streams ? "STREAM needs the response-streaming invocation" : "BUFFERED needs the plain invocation")})");
            }

            if (integration.GetValueOrDefault("Type") as string != "AWS_PROXY")
            {
                Fail(Mode, $"{id} is not a Lambda proxy integration");
            }

            if (eventSource != LambdaEventSource.RestApi)
            {
                Fail(Mode, $"the app's {EventSourceVariable} is '{eventSource}' behind a REST API");
            }

            if (aliasReference is null || !uri.Contains(aliasReference, StringComparison.Ordinal))
            {
                Fail(Alias, $"{id} does not invoke the alias");
            }
        }

        // Entry point: exactly one (a Function URL or a REST API); a distribution only in front of a closed URL.
        if (urls.Count + apis.Count != 1)
        {
            Fail(EntryPoint, $"{urls.Count} Function URLs and {apis.Count} REST APIs: expected exactly one entry point");
        }

        var publicUrl = urls.Any(u => u.Resource.Properties.GetValueOrDefault("AuthType") as string == "NONE");
        if (distributions.Count > 1 || (distributions.Count == 1 && (urls.Count != 1 || publicUrl)))
        {
            Fail(EntryPoint, publicUrl ? "a public Function URL beside a CloudFront distribution: the distribution can be bypassed" : "a distribution needs exactly one closed Function URL behind it");
        }

        foreach (var (id, url) in urls)
        {
            if (url.Properties.GetValueOrDefault("AuthType") as string is not ("NONE" or "AWS_IAM"))
            {
                Fail(EntryPoint, $"{id}'s AuthType is '{url.Properties.GetValueOrDefault("AuthType")}'");
            }

            if (aliasName is null || url.Properties.GetValueOrDefault("Qualifier") as string != aliasName)
            {
                Fail(Alias, $"{id} is on '{url.Properties.GetValueOrDefault("Qualifier")}', not on the alias '{aliasName}'");
            }
        }

        foreach (var (id, distribution) in distributions)
        {
            CheckDistribution(resources, id, distribution, urls, Fail);
        }

        // Permissions: each grants one caller, on the alias, and each caller that needs one has it.
        var granted = new List<(string Principal, string Action)>();
        foreach (var (id, permission) in permissions)
        {
            var principal = permission.Properties.GetValueOrDefault("Principal") as string ?? "";
            var action = permission.Properties.GetValueOrDefault("Action") as string ?? "";
            var sourceArn = permission.Properties.GetValueOrDefault("SourceArn") as string ?? "";
            granted.Add((principal, action));
            if (aliasReference is null || permission.Properties.GetValueOrDefault("FunctionName") as string != aliasReference)
            {
                Fail(Permissions, $"{id} is on '{permission.Properties.GetValueOrDefault("FunctionName")}', not on the alias the front door calls");
            }

            if (action is not ("lambda:InvokeFunction" or "lambda:InvokeFunctionUrl"))
            {
                Fail(Permissions, $"{id} grants '{action}'");
            }

            var throughUrlOnly = action == "lambda:InvokeFunctionUrl" || permission.Properties.GetValueOrDefault("InvokedViaFunctionUrl") as string == "true";
            switch (principal)
            {
                case "*":
                    if (!publicUrl || distributions.Count > 0)
                    {
                        Fail(Permissions, $"{id} lets anyone invoke, but the function has no public Function URL alone");
                    }

                    if (action == "lambda:InvokeFunctionUrl" ? permission.Properties.GetValueOrDefault("FunctionUrlAuthType") as string != "NONE" : !throughUrlOnly)
                    {
                        Fail(Permissions, $"{id} lets anyone invoke other than through the public URL");
                    }

                    break;
                case "cloudfront.amazonaws.com":
                    if (distributions.Count != 1 || !sourceArn.Contains(":cloudfront::", StringComparison.Ordinal) || !sourceArn.EndsWith($"distribution/Ref:{distributions[0].Id}", StringComparison.Ordinal))
                    {
                        Fail(Permissions, $"{id} lets CloudFront invoke without limiting it to this stack's distribution (SourceArn '{sourceArn}')");
                    }

                    if (!throughUrlOnly)
                    {
                        Fail(Permissions, $"{id} lets CloudFront invoke other than through the Function URL");
                    }

                    break;
                case "apigateway.amazonaws.com":
                    if (apis.Count != 1 || !sourceArn.Contains($":execute-api:", StringComparison.Ordinal) || !sourceArn.Contains($"Ref:{apis[0].Id}/", StringComparison.Ordinal))
                    {
                        Fail(Permissions, $"{id} lets API Gateway invoke without limiting it to this stack's REST API (SourceArn '{sourceArn}')");
                    }

                    break;
                default:
                    Fail(Permissions, $"{id} grants an unexpected principal '{principal}'");
                    break;
            }
        }

        void Require(bool needed, string principal, string action, string why)
        {
            if (needed && !granted.Contains((principal, action)))
            {
                Fail(Permissions, $"{principal} lacks {action}: {why}");
            }
        }

        Require(publicUrl && distributions.Count == 0, "*", "lambda:InvokeFunctionUrl", "the public URL answers 403");
        Require(publicUrl && distributions.Count == 0, "*", "lambda:InvokeFunction", "the public URL answers 403 (required since October 2025)");
        Require(distributions.Count == 1, "cloudfront.amazonaws.com", "lambda:InvokeFunctionUrl", "the distribution gets 403 from its origin");
        Require(distributions.Count == 1, "cloudfront.amazonaws.com", "lambda:InvokeFunction", "the distribution gets 403 from its origin");
        Require(apis.Count == 1, "apigateway.amazonaws.com", "lambda:InvokeFunction", "the REST API answers 500");

        // SnapStart: managed runtime only, and only published versions are snapshotted (the front door calls the alias).
        var snapStart = Map(function.Properties.GetValueOrDefault("SnapStart"))?.GetValueOrDefault("ApplyOn") as string ?? "None";
        if (snapStart == "PublishedVersions")
        {
            if (function.Properties.GetValueOrDefault("Runtime") as string != "dotnet10")
            {
                Fail(SnapStart, $"SnapStart on runtime '{function.Properties.GetValueOrDefault("Runtime")}': only the managed dotnet10 runtime supports it");
            }

            if (aliasName is null)
            {
                Fail(SnapStart, "SnapStart without a published version and alias: $LATEST is never snapshotted");
            }
        }
        else if (snapStart != "None")
        {
            Fail(SnapStart, $"SnapStart ApplyOn is '{snapStart}'");
        }

        // VPC: subnets and security groups together.
        var vpc = Map(function.Properties.GetValueOrDefault("VpcConfig"));
        if (vpc is not null && (!NonEmptyList(vpc.GetValueOrDefault("SubnetIds")) || !NonEmptyList(vpc.GetValueOrDefault("SecurityGroupIds"))))
        {
            Fail(Vpc, "VpcConfig needs both subnets and security groups");
        }

        // Database through RDS Proxy: inside the VPC, TLS, one warm connection, and the proxy keeps idle clients longer
        // than the app keeps checking them.
        var connectionString = variables.GetValueOrDefault("ConnectionStrings__Postgres") as string;
        var proxies = Of(resources, "AWS::RDS::DBProxy");
        if (connectionString is not null && (proxies.Count > 0 || connectionString.Contains("{{resolve:secretsmanager:", StringComparison.Ordinal)))
        {
            if (vpc is null)
            {
                Fail(Database, "the function reaches RDS Proxy from outside a VPC");
            }

            if (!connectionString.Contains("SSL Mode=Require", StringComparison.Ordinal))
            {
                Fail(Database, "the connection string does not require TLS");
            }

            if (variables.GetValueOrDefault("LambdaStreaming__Database__WarmConnections") as string != "1")
            {
                Fail(Database, "one invocation at a time per environment needs one warm connection");
            }

            var threshold = TimeSpan.TryParse(variables.GetValueOrDefault("LambdaStreaming__Database__ThawClearThreshold") as string, CultureInfo.InvariantCulture, out var t) ? t : (TimeSpan?)null;
            foreach (var (id, proxy) in proxies)
            {
                if (!connectionString.Contains($"GetAtt:{id}.Endpoint", StringComparison.Ordinal))
                {
                    Fail(Database, $"the connection string does not use {id}'s endpoint");
                }

                if (proxy.Properties.GetValueOrDefault("RequireTLS") as string != "true")
                {
                    Fail(Database, $"{id} does not require TLS");
                }

                var idle = int.TryParse(proxy.Properties.GetValueOrDefault("IdleClientTimeout") as string, CultureInfo.InvariantCulture, out var seconds) ? TimeSpan.FromSeconds(seconds) : TimeSpan.FromMinutes(30);
                if (threshold is null || idle <= threshold)
                {
                    Fail(Database, $"{id}'s IdleClientTimeout ({idle}) is not longer than the app's ThawClearThreshold ({threshold?.ToString() ?? "unset"})");
                }
            }
        }

        // Forwarded host: trusted only when CloudFront is the only way in (it overwrites X-Forwarded-Host).
        var trusts = variables.GetValueOrDefault("FrontDoor__TrustForwardedHost") as string == "true";
        if (trusts != (distributions.Count == 1 && !publicUrl))
        {
            Fail(ForwardedHost, trusts ? "the app trusts X-Forwarded-Host although clients can reach it without CloudFront" : "behind CloudFront the app does not read the viewer's host from X-Forwarded-Host");
        }

        return broken;
    }

    private static void CheckDistribution(IReadOnlyDictionary<string, DeployedResource> resources, string id, DeployedResource distribution,
        List<(string Id, DeployedResource Resource)> urls, Action<string, string> fail)
    {
        var config = Map(distribution.Properties.GetValueOrDefault("DistributionConfig")) ?? [];
        var origins = (config.GetValueOrDefault("Origins") as List<object?> ?? []).Select(Map).ToList();
        if (origins.Count != 1 || origins[0] is not { } origin)
        {
            fail(Distribution, $"{id} has {origins.Count} origins, expected the Function URL alone");
            return;
        }

        if (urls.Count != 1 || !(origin.GetValueOrDefault("DomainName") as string ?? "").Contains($"GetAtt:{urls[0].Id}.FunctionUrl", StringComparison.Ordinal))
        {
            fail(Distribution, $"{id}'s origin is not the Function URL");
        }

        var oacId = origin.GetValueOrDefault("OriginAccessControlId") as string ?? "";
        var oac = Of(resources, "AWS::CloudFront::OriginAccessControl").SingleOrDefault(o => oacId == $"GetAtt:{o.Id}.Id");
        var oacConfig = Map(oac.Resource?.Properties.GetValueOrDefault("OriginAccessControlConfig"));
        if (oacConfig is null || oacConfig.GetValueOrDefault("OriginAccessControlOriginType") as string != "lambda" || oacConfig.GetValueOrDefault("SigningBehavior") as string != "always" || oacConfig.GetValueOrDefault("SigningProtocol") as string != "sigv4")
        {
            fail(Distribution, $"{id}'s origin is not signed by an origin access control of type lambda (always, sigv4)");
        }

        var custom = Map(origin.GetValueOrDefault("CustomOriginConfig")) ?? [];
        if (custom.GetValueOrDefault("OriginProtocolPolicy") as string != "https-only")
        {
            fail(Distribution, $"{id} does not reach its origin over HTTPS only");
        }

        foreach (var timeout in new[] { "OriginReadTimeout", "OriginKeepaliveTimeout" })
        {
            if (!int.TryParse(custom.GetValueOrDefault(timeout) as string, CultureInfo.InvariantCulture, out var seconds) || seconds is < 1 or > 180)
            {
                fail(Distribution, $"{id}'s {timeout} is '{custom.GetValueOrDefault(timeout)}': CloudFront takes 1 to 60 s, up to 180 s with a quota increase");
            }
        }

        var behavior = Map(config.GetValueOrDefault("DefaultCacheBehavior")) ?? [];
        if (behavior.GetValueOrDefault("CachePolicyId") as string != CachingDisabledPolicy)
        {
            fail(Distribution, $"{id} caches the app's responses (use the CachingDisabled policy)");
        }

        if (behavior.GetValueOrDefault("OriginRequestPolicyId") as string != AllViewerExceptHostHeaderPolicy)
        {
            fail(Distribution, $"{id} does not forward every viewer header but Host (use the AllViewerExceptHostHeader policy)");
        }

        var methods = (behavior.GetValueOrDefault("AllowedMethods") as List<object?> ?? []).Cast<string>().ToHashSet(StringComparer.Ordinal);
        if (!methods.SetEquals(["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]))
        {
            fail(Distribution, $"{id} does not pass every method to the app");
        }

        var viewerRequest = (behavior.GetValueOrDefault("FunctionAssociations") as List<object?> ?? []).Select(Map)
            .Where(a => a?.GetValueOrDefault("EventType") as string == "viewer-request").Select(a => a!.GetValueOrDefault("FunctionARN") as string ?? "").ToList();
        var hostFunctions = Of(resources, "AWS::CloudFront::Function")
            .Where(f => (f.Resource.Properties.GetValueOrDefault("FunctionCode") as string ?? "").Contains("request.headers['x-forwarded-host'] = { value: request.headers.host.value }", StringComparison.Ordinal))
            .Select(f => $"GetAtt:{f.Id}.FunctionMetadata.FunctionARN");
        if (!viewerRequest.Intersect(hostFunctions).Any())
        {
            fail(Distribution, $"{id} does not pass the viewer's host to the app (a viewer-request function setting X-Forwarded-Host)");
        }

        if (behavior.GetValueOrDefault("ViewerProtocolPolicy") as string is not ("redirect-to-https" or "https-only"))
        {
            fail(Distribution, $"{id} serves viewers over plain HTTP");
        }
    }

    /// <summary>A synthesized CDK stack's resources, with the intrinsic functions written as the SAM evaluator writes them.</summary>
    public static IReadOnlyDictionary<string, DeployedResource> FromSynthesized(JsonNode template) =>
        template["Resources"]!.AsObject().ToDictionary(
            r => r.Key,
            r => new DeployedResource((string)r.Value!["Type"]!, Map(Normalize(r.Value!["Properties"])) ?? new Dictionary<string, object?>(StringComparer.Ordinal)),
            StringComparer.Ordinal);

    /// <summary>A deep copy whose resource <paramref name="id"/>'s properties <paramref name="change"/> edits: a rule broken on purpose.</summary>
    public static Dictionary<string, DeployedResource> With(IReadOnlyDictionary<string, DeployedResource> resources, string id, Action<Dictionary<string, object?>> change)
    {
        var copy = resources.ToDictionary(r => r.Key, r => r.Value with { Properties = (Dictionary<string, object?>)DeepCopy(r.Value.Properties)! }, StringComparer.Ordinal);
        change(copy[id].Properties);
        return copy;
    }

    public static string IdOf(IReadOnlyDictionary<string, DeployedResource> resources, string type) =>
        Assert.Single(resources, r => r.Value.Type == type).Key;

    public static Dictionary<string, object?>? Map(object? value) => value as Dictionary<string, object?>;

    private static object? DeepCopy(object? value) => value switch
    {
        Dictionary<string, object?> map => map.ToDictionary(e => e.Key, e => DeepCopy(e.Value), StringComparer.Ordinal),
        List<object?> list => list.Select(DeepCopy).ToList(),
        _ => value,
    };

    private static object? Normalize(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonArray array:
                return array.Select(Normalize).ToList();
            case JsonValue value:
                return value.GetValueKind() switch
                {
                    System.Text.Json.JsonValueKind.True => "true",
                    System.Text.Json.JsonValueKind.False => "false",
                    System.Text.Json.JsonValueKind.Number => value.ToJsonString(),
                    _ => value.GetValue<string>(),
                };
            case JsonObject obj when obj.Count == 1 && obj.First().Key is var key && (key == "Ref" || key.StartsWith("Fn::", StringComparison.Ordinal)):
                var argument = obj.First().Value;
                switch (key)
                {
                    case "Ref":
                        return "Ref:" + (string)argument!;
                    case "Fn::GetAtt":
                        return "GetAtt:" + string.Join('.', argument!.AsArray().Select(a => (string)a!));
                    case "Fn::Join":
                        var separator = (string)argument![0]!;
                        return string.Join(separator, argument[1]!.AsArray().Select(part => Normalize(part) as string ?? ""));
                    case "Fn::Split":
                        var text = Normalize(argument![1]) as string ?? "";
                        return text.Split((string)argument[0]!).Select(v => (object?)v).ToList();
                    case "Fn::Select":
                        var index = int.Parse(argument![0]!.ToJsonString().Trim('"'), CultureInfo.InvariantCulture);
                        var list = Normalize(argument[1]) as List<object?> ?? [];
                        return index < list.Count ? list[index] : "Select:" + index + ":" + string.Join(",", list);
                    default:
                        return obj.ToDictionary(e => e.Key, e => Normalize(e.Value), StringComparer.Ordinal);
                }

            case JsonObject obj:
                return obj.ToDictionary(e => e.Key, e => Normalize(e.Value), StringComparer.Ordinal);
            default:
                throw new NotSupportedException(node.ToJsonString());
        }
    }

    private static bool NonEmptyList(object? value) => value is List<object?> { Count: > 0 } list && list.All(v => v is string { Length: > 0 } || (v is not null && v is not string));

    private static List<(string Id, DeployedResource Resource)> Of(IReadOnlyDictionary<string, DeployedResource> resources, params string[] types) =>
        resources.Where(r => types.Contains(r.Value.Type)).OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => (r.Key, r.Value)).ToList();
}
