using System.Text.RegularExpressions;
using System.Xml.Linq;
using YamlDotNet.RepresentationModel;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// The SAM template shipped with the example (and, linked, with <c>dotnet new lambda-streaming</c>): evaluated for every
/// parameter combination, the Function URL's InvokeMode and the app's setting must always agree.
/// </summary>
public sealed partial class DeployTemplateTests
{
    // The environment variable the app reads LambdaStreamingOptions.InvokeMode from (configuration key with ':' as '__').
    private static readonly string InvokeModeVariable = $"{LambdaStreamingOptions.ConfigurationSectionName}__{nameof(LambdaStreamingOptions.InvokeMode)}";

    private readonly CloudFormationTemplate _template = CloudFormationTemplate.Load(RepositoryPaths.ExampleDeployTemplate);

    public static TheoryData<string, string> Combinations()
    {
        var template = CloudFormationTemplate.Load(RepositoryPaths.ExampleDeployTemplate);
        var data = new TheoryData<string, string>();
        foreach (var invokeMode in template.AllowedValues("InvokeMode"))
        {
            foreach (var build in template.AllowedValues("Build"))
            {
                data.Add(invokeMode, build);
            }
        }

        return data;
    }

    [Fact]
    public void Both_invoke_modes_and_both_builds_can_be_chosen_and_streaming_is_the_default()
    {
        Assert.Equal(["RESPONSE_STREAM", "BUFFERED"], _template.AllowedValues("InvokeMode"));
        Assert.Equal("RESPONSE_STREAM", _template.Default("InvokeMode"));
        Assert.Equal(["Managed", "NativeAot"], _template.AllowedValues("Build"));
    }

    [Theory]
    [MemberData(nameof(Combinations))]
    public void The_function_url_and_the_app_get_the_same_invoke_mode(string invokeMode, string build)
    {
        var function = FunctionProperties(invokeMode, build);

        var url = _template.Deployed(Parameters(invokeMode, build))["AppFunctionUrl"].Properties;
        Assert.Equal(invokeMode, url["InvokeMode"]);

        var variables = Assert.IsType<Dictionary<string, object?>>(Assert.IsType<Dictionary<string, object?>>(function["Environment"])["Variables"]);
        var appSetting = Assert.IsType<string>(variables[InvokeModeVariable]);

        // The value must be one the app accepts, and mean the same mode as the URL.
        var appMode = Enum.Parse<LambdaInvokeMode>(appSetting, ignoreCase: false);
        var expected = invokeMode == "RESPONSE_STREAM" ? LambdaInvokeMode.ResponseStream : LambdaInvokeMode.Buffered;
        Assert.Equal(expected, appMode);
    }

    [Theory]
    [MemberData(nameof(Combinations))]
    public void The_build_chooses_a_runtime_and_handler_that_start_the_published_app(string invokeMode, string build)
    {
        var function = FunctionProperties(invokeMode, build);
        if (build == "Managed")
        {
            // The managed runtime starts the executable assembly named by Handler: the project's assembly name.
            Assert.Equal("dotnet10", function["Runtime"]);
            Assert.Equal(Path.GetFileNameWithoutExtension(ExampleProjectFile), function["Handler"]);
        }
        else
        {
            // provided.al2023 starts ./bootstrap: the project names its Native AOT executable so.
            Assert.Equal("provided.al2023", function["Runtime"]);
            Assert.Equal("bootstrap", function["Handler"]);
            var aotAssemblyName = XDocument.Load(ExampleProjectFile).Descendants("PropertyGroup")
                .Where(g => (string?)g.Attribute("Condition") == "'$(PublishAot)' == 'true'")
                .Select(g => (string?)g.Element("AssemblyName"))
                .SingleOrDefault(n => n is not null);
            Assert.Equal("bootstrap", aotAssemblyName);
        }
    }

    [Fact]
    public void Nothing_else_in_the_template_sets_the_invoke_mode()
    {
        // One function, no Globals that could override its URL or environment, and the mode only from the parameter.
        Assert.Single(_template.Resources("AWS::Serverless::Function"));
        Assert.False(_template.HasSection("Globals"), "Globals could set FunctionUrlConfig or Environment behind the function's back");
        Assert.False(FunctionNode() is YamlMappingNode properties && properties.Children.ContainsKey(new YamlScalarNode("FunctionUrlConfig")), "the URL is declared once, as AWS::Lambda::Url");
        var text = File.ReadAllText(RepositoryPaths.ExampleDeployTemplate);
        Assert.Equal(1, CountOccurrences(text, "InvokeMode: !Ref InvokeMode"));
        Assert.Equal(1, CountOccurrences(text, InvokeModeVariable + ":"));
    }

    [Fact]
    public void The_postgres_connection_string_is_only_set_when_given_and_never_echoed()
    {
        var without = Variables(FunctionProperties("RESPONSE_STREAM", "Managed"));
        Assert.False(without.ContainsKey("ConnectionStrings__Postgres"));
        Assert.False(without.ContainsKey("LambdaStreaming__Database__WarmConnections"));

        var function = _template.Evaluate(FunctionNode(), Parameters("RESPONSE_STREAM", "Managed", ("PostgresConnectionString", "Host=db;Database=app")));
        var with = Variables(Assert.IsType<Dictionary<string, object?>>(function));
        Assert.Equal("Host=db;Database=app", with["ConnectionStrings__Postgres"]);
        Assert.Equal("1", with["LambdaStreaming__Database__WarmConnections"]);
        Assert.Equal("true", ((YamlScalarNode)_template.Section("Parameters")["PostgresConnectionString"]["NoEcho"]).Value);
    }

    [Fact]
    public void Through_rds_proxy_the_connection_string_is_built_from_the_proxy_endpoint_and_the_secret()
    {
        const string Secret = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf";
        var created = Variables(Assert.IsType<Dictionary<string, object?>>(_template.Evaluate(FunctionNode(), Parameters("RESPONSE_STREAM", "Managed", Proxy(("DatabaseInstanceIdentifier", "app-db"))))));
        Assert.Equal(
            "Host=GetAtt:DatabaseProxy.Endpoint;Port=5432;Database=postgres;" +
            $"Username={{{{resolve:secretsmanager:{Secret}:SecretString:username}}}};Password={{{{resolve:secretsmanager:{Secret}:SecretString:password}}}};" +
            "SSL Mode=Require;Maximum Pool Size=2",
            created["ConnectionStrings__Postgres"]);

        var given = Variables(Assert.IsType<Dictionary<string, object?>>(_template.Evaluate(FunctionNode(), Parameters("RESPONSE_STREAM", "Managed", Proxy(("DatabaseProxyEndpoint", "proxy.example"))))));
        Assert.StartsWith("Host=proxy.example;", (string?)given["ConnectionStrings__Postgres"], StringComparison.Ordinal);

        // The proxy targets exactly the database named.
        var cluster = _template.Deployed(Parameters("RESPONSE_STREAM", "Managed", Proxy(("DatabaseClusterIdentifier", "app-cluster"))));
        var targets = cluster["DatabaseProxyTargetGroup"].Properties;
        Assert.Equal(["app-cluster"], Assert.IsType<List<object?>>(targets["DBClusterIdentifiers"]));
        Assert.False(targets.ContainsKey("DBInstanceIdentifiers"));
        Assert.DoesNotContain(_template.Deployed(Parameters("RESPONSE_STREAM", "Managed", Proxy(("DatabaseProxyEndpoint", "proxy.example")))), r => r.Value.Type == "AWS::RDS::DBProxy");

        static (string, string)[] Proxy((string, string) target) =>
            [("DatabaseSecretArn", Secret), ("SubnetIds", "subnet-1,subnet-2"), ("SecurityGroupIds", "sg-1"), target];
    }

    /// <summary>
    /// Every combination of the options: the ones CloudFormation's rules let through deploy a consistent stack
    /// (<see cref="DeploymentRules"/>), and the rules reject exactly the ones that cannot work.
    /// </summary>
    [Fact]
    public void Every_combination_of_options_is_consistent_or_rejected_by_the_templates_rules()
    {
        var failures = new List<string>();
        var checkedCount = 0;
        foreach (var (label, parameters, expectRejected) in AllCombinations())
        {
            var rejected = _template.BrokenRules(parameters);
            if (expectRejected != (rejected.Count > 0))
            {
                failures.Add($"{label}: expected {(expectRejected ? "rejection" : "acceptance")}, rules said [{string.Join("; ", rejected)}]");
                continue;
            }

            if (!expectRejected)
            {
                checkedCount++;
                failures.AddRange(DeploymentRules.Check(_template.Deployed(parameters)).Select(f => $"{label}: {f}"));
            }
        }

        Assert.Empty(failures);
        Assert.True(checkedCount >= 200, $"only {checkedCount} combinations deployable");
    }

    [Theory]
    [InlineData("SnapStartNeedsTheManagedRuntime", "SnapStart=Enabled", "Build=NativeAot")]
    [InlineData("CloudFrontSettingsNeedCloudFront", "FrontDoor=PublicUrl", "WebAclArn=arn:aws:wafv2:us-east-1:1:global/webacl/x/1")]
    [InlineData("DomainNameAndCertificateGoTogether", "FrontDoor=CloudFront", "DomainName=api.example.com")]
    [InlineData("SubnetsAndSecurityGroupsGoTogether", "SubnetIds=subnet-1")]
    [InlineData("TheProxyNeedsASecretAVpcAndOneTarget", "DatabaseSecretArn=arn:s", "DatabaseInstanceIdentifier=db")]
    [InlineData("TheProxyNeedsASecretAVpcAndOneTarget", "DatabaseSecretArn=arn:s", "SubnetIds=subnet-1", "SecurityGroupIds=sg-1", "DatabaseInstanceIdentifier=db", "DatabaseProxyEndpoint=p")]
    [InlineData("TheProxyNeedsASecretAVpcAndOneTarget", "DatabaseSecretArn=arn:s", "SubnetIds=subnet-1", "SecurityGroupIds=sg-1", "DatabaseInstanceIdentifier=db", "PostgresConnectionString=Host=x")]
    [InlineData("DatabaseTargetsNeedASecret", "DatabaseProxyEndpoint=p")]
    public void Each_rule_rejects_what_it_is_for(string rule, params string[] settings)
    {
        var parameters = Parameters("RESPONSE_STREAM", "Managed", settings.Select(s => (s[..s.IndexOf('=', StringComparison.Ordinal)], s[(s.IndexOf('=', StringComparison.Ordinal) + 1)..])).ToArray());
        Assert.Contains(_template.BrokenRules(parameters), r => r.StartsWith(rule + ":", StringComparison.Ordinal));
        Assert.Empty(_template.BrokenRules(Parameters("RESPONSE_STREAM", "Managed")));
    }

    public static TheoryData<string, string> BrokenOnPurpose() => new()
    {
        { "url-mode-differs", DeploymentRules.Mode },
        { "app-mode-unknown", DeploymentRules.Mode },
        { "event-source-differs", DeploymentRules.Mode },
        { "rest-buffers-while-app-streams", DeploymentRules.Mode },
        { "rest-uri-not-streaming", DeploymentRules.Mode },
        { "public-url-beside-distribution", DeploymentRules.EntryPoint },
        { "second-entry-point", DeploymentRules.EntryPoint },
        { "cloudfront-any-distribution", DeploymentRules.Permissions },
        { "cloudfront-invoke-not-via-url", DeploymentRules.Permissions },
        { "cloudfront-permission-missing", DeploymentRules.Permissions },
        { "public-permission-behind-distribution", DeploymentRules.Permissions },
        { "permission-on-latest", DeploymentRules.Permissions },
        { "rest-any-api", DeploymentRules.Permissions },
        { "caching-on", DeploymentRules.Distribution },
        { "host-forwarded", DeploymentRules.Distribution },
        { "no-origin-access-control", DeploymentRules.Distribution },
        { "origin-read-timeout-too-long", DeploymentRules.Distribution },
        { "no-viewer-host", DeploymentRules.Distribution },
        { "url-on-latest", DeploymentRules.Alias },
        { "snapstart-native", DeploymentRules.SnapStart },
        { "vpc-without-security-groups", DeploymentRules.Vpc },
        { "proxy-idle-timeout-short", DeploymentRules.Database },
        { "proxy-outside-vpc", DeploymentRules.Database },
        { "many-warm-connections", DeploymentRules.Database },
        { "forwarded-host-trusted-on-public-url", DeploymentRules.ForwardedHost },
        { "forwarded-host-ignored-behind-cloudfront", DeploymentRules.ForwardedHost },
    };

    /// <summary>Each rule of <see cref="DeploymentRules"/> fails when a good deployment is broken on purpose.</summary>
    [Theory]
    [MemberData(nameof(BrokenOnPurpose))]
    public void Each_deployment_rule_fails_when_broken_on_purpose(string breakage, string rule)
    {
        var cloudFront = _template.Deployed(Parameters("RESPONSE_STREAM", "Managed",
            ("FrontDoor", "CloudFront"), ("SnapStart", "Enabled"), ("SubnetIds", "subnet-1"), ("SecurityGroupIds", "sg-1"),
            ("DatabaseSecretArn", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db"), ("DatabaseInstanceIdentifier", "app-db")));
        var restApi = _template.Deployed(Parameters("RESPONSE_STREAM", "Managed", ("FrontDoor", "RestApi")));
        var publicUrl = _template.Deployed(Parameters("RESPONSE_STREAM", "Managed"));
        Assert.Empty(DeploymentRules.Check(cloudFront));
        Assert.Empty(DeploymentRules.Check(restApi));
        Assert.Empty(DeploymentRules.Check(publicUrl));

        var broken = Break(breakage, cloudFront, restApi, publicUrl);
        Assert.Contains(DeploymentRules.Check(broken), f => f.StartsWith(rule + ":", StringComparison.Ordinal));
    }

    /// <summary>Breaks one thing in a good deployment (the same breakages for the CDK app's, see <see cref="CdkAppTests"/>).</summary>
    internal static IReadOnlyDictionary<string, DeployedResource> Break(string breakage,
        IReadOnlyDictionary<string, DeployedResource> cloudFront, IReadOnlyDictionary<string, DeployedResource> restApi, IReadOnlyDictionary<string, DeployedResource> publicUrl)
    {
        static Dictionary<string, object?> Map(object? value) => DeploymentRules.Map(value)!;
        static Dictionary<string, object?> Variables(Dictionary<string, object?> function) => Map(Map(function["Environment"])["Variables"]);
        static Dictionary<string, object?> Origin(Dictionary<string, object?> distribution) => Map(((List<object?>)Map(distribution["DistributionConfig"])["Origins"]!)[0]);
        static Dictionary<string, object?> Behavior(Dictionary<string, object?> distribution) => Map(Map(distribution["DistributionConfig"])["DefaultCacheBehavior"]);
        static string FunctionId(IReadOnlyDictionary<string, DeployedResource> r) => r.Single(e => e.Value.Type is "AWS::Serverless::Function" or "AWS::Lambda::Function").Key;
        static string PermissionId(IReadOnlyDictionary<string, DeployedResource> r, string principal, string action) =>
            r.Single(e => e.Value.Type == "AWS::Lambda::Permission" && e.Value.Properties["Principal"] as string == principal && e.Value.Properties["Action"] as string == action).Key;
        var distribution = DeploymentRules.IdOf(cloudFront, "AWS::CloudFront::Distribution");
        var url = DeploymentRules.IdOf(cloudFront, "AWS::Lambda::Url");
        var method = restApi.Where(e => e.Value.Type == "AWS::ApiGateway::Method").Select(e => e.Key).Order(StringComparer.Ordinal).First();
        switch (breakage)
        {
            case "url-mode-differs":
                return DeploymentRules.With(cloudFront, url, p => p["InvokeMode"] = "BUFFERED");
            case "app-mode-unknown":
                return DeploymentRules.With(cloudFront, FunctionId(cloudFront), p => Variables(p)["LambdaStreaming__InvokeMode"] = "RESPONSE_STREAM");
            case "event-source-differs":
                return DeploymentRules.With(restApi, FunctionId(restApi), p => Variables(p)["LambdaStreaming__EventSource"] = "FunctionUrl");
            case "rest-buffers-while-app-streams":
                return DeploymentRules.With(restApi, method, p => Map(p["Integration"]).Remove("ResponseTransferMode"));
            case "rest-uri-not-streaming":
                return DeploymentRules.With(restApi, method, p => Map(p["Integration"])["Uri"] = ((string)Map(p["Integration"])["Uri"]!).Replace("/response-streaming-invocations", "/invocations", StringComparison.Ordinal));
            case "public-url-beside-distribution":
                return DeploymentRules.With(cloudFront, url, p => p["AuthType"] = "NONE");
            case "second-entry-point":
                var both = cloudFront.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
                foreach (var (id, resource) in restApi.Where(e => e.Value.Type.StartsWith("AWS::ApiGateway::", StringComparison.Ordinal)))
                {
                    both[id] = resource;
                }

                return both;
            case "cloudfront-any-distribution":
                return DeploymentRules.With(cloudFront, PermissionId(cloudFront, "cloudfront.amazonaws.com", "lambda:InvokeFunctionUrl"), p => p.Remove("SourceArn"));
            case "cloudfront-invoke-not-via-url":
                return DeploymentRules.With(cloudFront, PermissionId(cloudFront, "cloudfront.amazonaws.com", "lambda:InvokeFunction"), p => p.Remove("InvokedViaFunctionUrl"));
            case "cloudfront-permission-missing":
                var fewer = cloudFront.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
                fewer.Remove(PermissionId(cloudFront, "cloudfront.amazonaws.com", "lambda:InvokeFunction"));
                return fewer;
            case "public-permission-behind-distribution":
                var extra = cloudFront.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
                var publicPermission = PermissionId(publicUrl, "*", "lambda:InvokeFunction");
                extra[publicPermission + "Extra"] = publicUrl[publicPermission] with { Properties = new(publicUrl[publicPermission].Properties) { ["FunctionName"] = cloudFront[PermissionId(cloudFront, "cloudfront.amazonaws.com", "lambda:InvokeFunction")].Properties["FunctionName"] } };
                return extra;
            case "permission-on-latest":
                return DeploymentRules.With(publicUrl, PermissionId(publicUrl, "*", "lambda:InvokeFunctionUrl"), p => p["FunctionName"] = "Ref:" + FunctionId(publicUrl));
            case "rest-any-api":
                return DeploymentRules.With(restApi, PermissionId(restApi, "apigateway.amazonaws.com", "lambda:InvokeFunction"), p => p.Remove("SourceArn"));
            case "caching-on":
                return DeploymentRules.With(cloudFront, distribution, p => Behavior(p)["CachePolicyId"] = "658327ea-f89d-4fab-a63d-7e88639e58f6");
            case "host-forwarded":
                return DeploymentRules.With(cloudFront, distribution, p => Behavior(p)["OriginRequestPolicyId"] = "216adef6-5c7f-47e4-b989-5492eafa07d3");
            case "no-origin-access-control":
                return DeploymentRules.With(cloudFront, distribution, p => Origin(p).Remove("OriginAccessControlId"));
            case "origin-read-timeout-too-long":
                return DeploymentRules.With(cloudFront, distribution, p => Map(Origin(p)["CustomOriginConfig"])["OriginReadTimeout"] = "900");
            case "no-viewer-host":
                return DeploymentRules.With(cloudFront, distribution, p => Behavior(p).Remove("FunctionAssociations"));
            case "url-on-latest":
                return DeploymentRules.With(cloudFront, url, p => p.Remove("Qualifier"));
            case "snapstart-native":
                return DeploymentRules.With(cloudFront, FunctionId(cloudFront), p => p["Runtime"] = "provided.al2023");
            case "vpc-without-security-groups":
                return DeploymentRules.With(cloudFront, FunctionId(cloudFront), p => Map(p["VpcConfig"])["SecurityGroupIds"] = new List<object?>());
            case "proxy-idle-timeout-short":
                return DeploymentRules.With(cloudFront, DeploymentRules.IdOf(cloudFront, "AWS::RDS::DBProxy"), p => p["IdleClientTimeout"] = "120");
            case "proxy-outside-vpc":
                return DeploymentRules.With(cloudFront, FunctionId(cloudFront), p => p.Remove("VpcConfig"));
            case "many-warm-connections":
                return DeploymentRules.With(cloudFront, FunctionId(cloudFront), p => Variables(p)["LambdaStreaming__Database__WarmConnections"] = "10");
            case "forwarded-host-trusted-on-public-url":
                return DeploymentRules.With(publicUrl, FunctionId(publicUrl), p => Variables(p)["FrontDoor__TrustForwardedHost"] = "true");
            case "forwarded-host-ignored-behind-cloudfront":
                return DeploymentRules.With(cloudFront, FunctionId(cloudFront), p => Variables(p).Remove("FrontDoor__TrustForwardedHost"));
            default:
                throw new ArgumentOutOfRangeException(nameof(breakage), breakage, null);
        }
    }

    [Theory]
    [InlineData("30", null, "30")]
    [InlineData("60", null, "60")]
    [InlineData("900", null, "60")]
    [InlineData("900", "180", "180")]
    public async Task The_deploy_script_sets_the_origin_timeout_from_the_function_timeout_within_cloudfronts_limit(string timeout, string? originTimeout, string expected)
    {
        string[] arguments = originTimeout is null
            ? [DeployScript, "--print-parameters", "--front-door", "CloudFront", "--timeout", timeout]
            : [DeployScript, "--print-parameters", "--front-door", "CloudFront", "--timeout", timeout, "--origin-timeout", originTimeout];
        var result = await DotNetCli.RunProgramAsync("bash", arguments, RepositoryPaths.Example, TimeSpan.FromMinutes(1), new Dictionary<string, string>());
        result.EnsureSuccess("deploy.sh --print-parameters");
        var parameters = result.Lines.Select(l => l.Trim()).Where(l => l.Contains('=', StringComparison.Ordinal))
            .ToDictionary(l => l[..l.IndexOf('=', StringComparison.Ordinal)], l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..], StringComparer.Ordinal);
        Assert.Equal(expected, parameters["OriginTimeout"]);
        Assert.Equal(timeout, parameters["Timeout"]);
        Assert.Equal("CloudFront", parameters["FrontDoor"]);
        Assert.Empty(_template.BrokenRules(parameters));
        Assert.Empty(DeploymentRules.Check(_template.Deployed(parameters)));
    }

    [Fact]
    public async Task The_deploy_script_refuses_an_origin_timeout_cloudfront_cannot_take()
    {
        var result = await DotNetCli.RunProgramAsync("bash", [DeployScript, "--print-parameters", "--front-door", "CloudFront", "--origin-timeout", "181"], RepositoryPaths.Example, TimeSpan.FromMinutes(1), new Dictionary<string, string>());
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("180", result.Output, StringComparison.Ordinal);
    }

    private static string DeployScript => Path.Combine(RepositoryPaths.Example, "deploy", "deploy.sh");

    private static IEnumerable<(string Label, Dictionary<string, string> Parameters, bool ExpectRejected)> AllCombinations()
    {
        var databases = new (string Name, (string, string)[] Settings, bool NeedsVpc)[]
        {
            ("no database", [], false),
            ("connection string", [("PostgresConnectionString", "Host=db.example;Database=app")], false),
            ("proxy for an instance", [("DatabaseSecretArn", "arn:aws:secretsmanager:eu-west-1:1:secret:db"), ("DatabaseInstanceIdentifier", "app-db")], true),
            ("proxy for a cluster", [("DatabaseSecretArn", "arn:aws:secretsmanager:eu-west-1:1:secret:db"), ("DatabaseClusterIdentifier", "app-cluster")], true),
            ("given proxy", [("DatabaseSecretArn", "arn:aws:secretsmanager:eu-west-1:1:secret:db"), ("DatabaseProxyEndpoint", "app.proxy-x.eu-west-1.rds.amazonaws.com")], true),
        };
        foreach (var invokeMode in new[] { "RESPONSE_STREAM", "BUFFERED" })
        foreach (var build in new[] { "Managed", "NativeAot" })
        foreach (var frontDoor in new[] { "PublicUrl", "IamUrl", "CloudFront", "RestApi" })
        foreach (var snapStart in new[] { "Disabled", "Enabled" })
        foreach (var (database, databaseSettings, needsVpc) in databases)
        foreach (var vpc in new[] { false, true })
        foreach (var domain in frontDoor == "CloudFront" ? new[] { false, true } : [false])
        {
            var settings = new List<(string, string)>(databaseSettings) { ("FrontDoor", frontDoor), ("SnapStart", snapStart) };
            if (vpc)
            {
                settings.Add(("SubnetIds", "subnet-1,subnet-2"));
                settings.Add(("SecurityGroupIds", "sg-1"));
            }

            if (domain)
            {
                settings.Add(("DomainName", "api.example.com"));
                settings.Add(("CertificateArn", "arn:aws:acm:us-east-1:1:certificate/x"));
                settings.Add(("WebAclArn", "arn:aws:wafv2:us-east-1:1:global/webacl/x/1"));
            }

            var rejected = (snapStart == "Enabled" && build == "NativeAot") || (needsVpc && !vpc);
            yield return ($"{invokeMode}/{build}/{frontDoor}/SnapStart {snapStart}/{database}/{(vpc ? "VPC" : "no VPC")}{(domain ? "/alias" : "")}",
                Parameters(invokeMode, build, [.. settings]), rejected);
        }
    }

    [Fact]
    public void The_deploy_script_passes_the_same_invoke_mode_to_the_template()
    {
        var script = File.ReadAllText(Path.Combine(RepositoryPaths.Example, "deploy", "deploy.sh"));
        Assert.Contains("\"InvokeMode=$invoke_mode\"", script, StringComparison.Ordinal);
        Assert.Contains("\"Build=$build\"", script, StringComparison.Ordinal);
        Assert.Contains("-p:PublishAot=true", script, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Combinations))]
    public void Each_build_is_published_for_the_functions_architecture_and_the_managed_one_ReadyToRun(string invokeMode, string build)
    {
        // Lambda runs x86_64 or arm64; precompiled code for the other machine would be ignored (JIT-compiled after all)
        // and a native executable would not start at all.
        var architecture = Assert.IsType<string>(Assert.Single(Assert.IsType<List<object?>>(FunctionProperties(invokeMode, build)["Architectures"])));
        var expectedRuntime = architecture switch
        {
            "x86_64" => "linux-x64",
            "arm64" => "linux-arm64",
            _ => throw new Xunit.Sdk.XunitException($"unknown Lambda architecture '{architecture}'"),
        };

        var publishes = File.ReadAllLines(Path.Combine(RepositoryPaths.Example, "deploy", "deploy.sh"))
            .Select(l => l.Trim()).Where(l => l.StartsWith("dotnet publish ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, publishes.Count);
        var publish = Assert.Single(publishes, l => l.Contains("-p:PublishAot=true", StringComparison.Ordinal) == (build == "NativeAot"));
        Assert.Equal(expectedRuntime, RuntimeOption().Match(publish).Groups[1].Value);
        if (build == "Managed")
        {
            Assert.Contains("--self-contained false", publish, StringComparison.Ordinal); // the dotnet10 runtime brings .NET
            Assert.Contains("-p:PublishReadyToRun=true", publish, StringComparison.Ordinal);
        }
    }

    [GeneratedRegex(@"\s-r\s+(\S+)")]
    private static partial Regex RuntimeOption();

    private static string ExampleProjectFile => Path.Combine(RepositoryPaths.Example, "StreamingApi.csproj");

    private YamlNode FunctionNode() => Assert.Single(_template.Resources("AWS::Serverless::Function")).Value["Properties"];

    private Dictionary<string, object?> FunctionProperties(string invokeMode, string build) =>
        Assert.IsType<Dictionary<string, object?>>(_template.Evaluate(FunctionNode(), Parameters(invokeMode, build)));

    private static Dictionary<string, object?> Variables(Dictionary<string, object?> function) =>
        Assert.IsType<Dictionary<string, object?>>(Assert.IsType<Dictionary<string, object?>>(function["Environment"])["Variables"]);

    private static Dictionary<string, string> Parameters(string invokeMode, string build, params (string Name, string Value)[] more)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal) { ["InvokeMode"] = invokeMode, ["Build"] = build };
        foreach (var (name, value) in more)
        {
            parameters[name] = value;
        }

        return parameters;
    }

    private static int CountOccurrences(string text, string value)
    {
        var count = 0;
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
