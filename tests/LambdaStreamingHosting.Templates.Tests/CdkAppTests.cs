using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.CDK;
using StreamingApi.Cdk;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// The C# CDK app (examples/StreamingApi.Cdk), synthesized for every combination of its options: the CloudFormation it
/// produces satisfies <see cref="DeploymentRules"/> (the same rules as the SAM template's), the settings that cannot work
/// are refused before anything is synthesized, and each rule fails when a synthesized stack is broken on purpose.
/// Needs Node.js, as every CDK app does. The stacks are synthesized once, in one app, for the whole class.
/// </summary>
public sealed class CdkAppTests : IClassFixture<CdkAppTests.SynthesizedStacks>
{
    private readonly SynthesizedStacks _stacks;

    public CdkAppTests(SynthesizedStacks stacks) => _stacks = stacks;

    [Fact]
    public void Every_combination_of_options_synthesizes_a_consistent_stack()
    {
        var failures = new List<string>();
        foreach (var (name, settings) in _stacks.Settings)
        {
            var resources = _stacks.Resources(name);
            failures.AddRange(DeploymentRules.Check(resources).Select(f => $"{name}: {f}"));

            var function = resources.Single(r => r.Value.Type == "AWS::Lambda::Function").Value.Properties;
            var nativeAot = settings.Build == FunctionBuild.NativeAot;
            Expect(name, nativeAot ? "provided.al2023" : "dotnet10", function["Runtime"], failures);
            Expect(name, nativeAot ? "bootstrap" : "StreamingApi", function["Handler"], failures);
            Expect(name, settings.SnapStart ? "PublishedVersions" : "None", DeploymentRules.Map(function["SnapStart"])!["ApplyOn"], failures);
            Expect(name, settings.TimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), function["Timeout"], failures);
            var entryPoints = resources.Count(r => r.Value.Type is "AWS::Lambda::Url" or "AWS::ApiGateway::RestApi" or "AWS::CloudFront::Distribution");
            Expect(name, settings.FrontDoor == FrontDoor.CloudFront ? "2" : "1", entryPoints.ToString(System.Globalization.CultureInfo.InvariantCulture), failures);
            if (settings.FrontDoor == FrontDoor.CloudFront)
            {
                var origin = DeploymentRules.Map(((List<object?>)DeploymentRules.Map(resources.Single(r => r.Value.Type == "AWS::CloudFront::Distribution").Value.Properties["DistributionConfig"])!["Origins"]!)[0])!;
                var expected = Math.Min(settings.TimeoutSeconds, 60).ToString(System.Globalization.CultureInfo.InvariantCulture);
                Expect(name, settings.OriginTimeoutSeconds?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? expected, DeploymentRules.Map(origin["CustomOriginConfig"])!["OriginReadTimeout"], failures);
            }
        }

        Assert.Empty(failures);
        Assert.True(_stacks.Settings.Count >= 60, $"only {_stacks.Settings.Count} stacks");
    }

    public static TheoryData<string> Conflicts() => new()
    {
        "snapstart-native",
        "proxy-without-vpc",
        "two-database-targets",
        "domain-without-certificate",
        "domain-without-cloudfront",
        "subnets-without-security-groups",
        "origin-timeout-over-180",
        "timeout-over-900",
    };

    [Theory]
    [MemberData(nameof(Conflicts))]
    public void Settings_that_cannot_work_are_refused_before_anything_is_synthesized(string conflict)
    {
        var code = _stacks.CodePath;
        var vpc = new StreamingApiStackSettings { CodePath = code, SubnetIds = ["subnet-1"], SecurityGroupIds = ["sg-1"] };
        StreamingApiStackSettings settings = conflict switch
        {
            "snapstart-native" => new() { CodePath = code, SnapStart = true, Build = FunctionBuild.NativeAot },
            "proxy-without-vpc" => new() { CodePath = code, Database = new DatabaseSettings { SecretArn = "arn:s", InstanceIdentifier = "db" } },
            "two-database-targets" => new() { CodePath = code, SubnetIds = vpc.SubnetIds, SecurityGroupIds = vpc.SecurityGroupIds, Database = new DatabaseSettings { SecretArn = "arn:s", InstanceIdentifier = "db", ProxyEndpoint = "p" } },
            "domain-without-certificate" => new() { CodePath = code, FrontDoor = FrontDoor.CloudFront, DomainName = "api.example.com" },
            "domain-without-cloudfront" => new() { CodePath = code, FrontDoor = FrontDoor.PublicUrl, DomainName = "api.example.com", CertificateArn = "arn:c" },
            "subnets-without-security-groups" => new() { CodePath = code, SubnetIds = ["subnet-1"] },
            "origin-timeout-over-180" => new() { CodePath = code, FrontDoor = FrontDoor.CloudFront, OriginTimeoutSeconds = 181 },
            "timeout-over-900" => new() { CodePath = code, TimeoutSeconds = 901 },
            _ => throw new ArgumentOutOfRangeException(nameof(conflict)),
        };

        Assert.NotEmpty(settings.Problems());
        Assert.Empty(new StreamingApiStackSettings { CodePath = code }.Problems());
        var error = Assert.Throws<ArgumentException>(() => new StreamingApiStack(new App(), "Refused", settings));
        Assert.Contains(settings.Problems()[0], error.Message, StringComparison.Ordinal);
    }

    /// <summary>Each rule fails when a synthesized stack is broken on purpose (the SAM template's breakages).</summary>
    [Theory]
    [MemberData(nameof(DeployTemplateTests.BrokenOnPurpose), MemberType = typeof(DeployTemplateTests))]
    public void Each_deployment_rule_fails_when_a_synthesized_stack_is_broken_on_purpose(string breakage, string rule)
    {
        var cloudFront = _stacks.Resources(SynthesizedStacks.CloudFrontWithDatabase);
        var restApi = _stacks.Resources(SynthesizedStacks.StreamingRestApi);
        var publicUrl = _stacks.Resources(SynthesizedStacks.StreamingPublicUrl);
        Assert.Empty(DeploymentRules.Check(cloudFront));
        Assert.Empty(DeploymentRules.Check(restApi));
        Assert.Empty(DeploymentRules.Check(publicUrl));

        var broken = DeployTemplateTests.Break(breakage, cloudFront, restApi, publicUrl);
        Assert.Contains(DeploymentRules.Check(broken), f => f.StartsWith(rule + ":", StringComparison.Ordinal));
    }

    [Fact]
    public void The_environment_variables_are_the_ones_the_app_binds()
    {
        Assert.Equal("LambdaStreaming__InvokeMode", StreamingApiStack.InvokeModeVariable);
        Assert.Equal("LambdaStreaming__EventSource", StreamingApiStack.EventSourceVariable);
        Assert.Equal(Amazon.CDK.AWS.Lambda.InvokeMode.RESPONSE_STREAM, StreamingApiStack.UrlInvokeMode(new LambdaStreamingOptions().InvokeMode));
    }

    [Fact]
    public void The_sam_template_and_the_cdk_app_name_the_same_cloudfront_policies_and_viewer_host_function()
    {
        var template = File.ReadAllText(RepositoryPaths.ExampleDeployTemplate);
        Assert.Contains(StreamingApiStack.CachingDisabledPolicyId, template, StringComparison.Ordinal);
        Assert.Contains(StreamingApiStack.AllViewerExceptHostHeaderPolicyId, template, StringComparison.Ordinal);
        foreach (var line in StreamingApiStack.ViewerHostFunctionCode.Split('\n'))
        {
            Assert.Contains(line.Trim(), template, StringComparison.Ordinal);
        }
    }

    private static void Expect(string stack, string expected, object? actual, List<string> failures)
    {
        if (!Equals(expected, actual))
        {
            failures.Add($"{stack}: expected '{expected}', synthesized '{actual}'");
        }
    }

    /// <summary>Every combination, synthesized once in one CDK app.</summary>
    public sealed class SynthesizedStacks : IDisposable
    {
        public const string CloudFrontWithDatabase = "CloudFrontWithDatabase";
        public const string StreamingRestApi = "StreamingRestApi";
        public const string StreamingPublicUrl = "StreamingPublicUrl";

        private readonly TemporaryDirectory _work = new("lambda-streaming-cdk");
        private readonly Dictionary<string, IReadOnlyDictionary<string, DeployedResource>> _resources = new(StringComparer.Ordinal);

        public SynthesizedStacks()
        {
            CodePath = _work.Combine("function");
            Directory.CreateDirectory(CodePath);
            File.WriteAllText(Path.Combine(CodePath, "bootstrap"), "placeholder for the published app");

            var settings = new Dictionary<string, StreamingApiStackSettings>(StringComparer.Ordinal);
            var databases = new (string Name, DatabaseSettings? Database)[]
            {
                ("NoDatabase", null),
                ("InstanceProxy", new DatabaseSettings { SecretArn = "arn:aws:secretsmanager:eu-west-1:1:secret:db", InstanceIdentifier = "app-db" }),
                ("GivenProxy", new DatabaseSettings { SecretArn = "arn:aws:secretsmanager:eu-west-1:1:secret:db", ProxyEndpoint = "app.proxy-x.eu-west-1.rds.amazonaws.com" }),
            };
            foreach (var mode in Enum.GetValues<LambdaInvokeMode>())
            foreach (var build in Enum.GetValues<FunctionBuild>())
            foreach (var frontDoor in Enum.GetValues<FrontDoor>())
            foreach (var snapStart in new[] { false, true })
            foreach (var (databaseName, database) in databases)
            {
                if (snapStart && build == FunctionBuild.NativeAot)
                {
                    continue; // refused, see Settings_that_cannot_work_are_refused_before_anything_is_synthesized
                }

                settings[$"{mode}{build}{frontDoor}{(snapStart ? "SnapStart" : "")}{databaseName}"] = new StreamingApiStackSettings
                {
                    InvokeMode = mode,
                    Build = build,
                    FrontDoor = frontDoor,
                    SnapStart = snapStart,
                    Database = database,
                    SubnetIds = database is null ? [] : ["subnet-1", "subnet-2"],
                    SecurityGroupIds = database is null ? [] : ["sg-1"],
                    CodePath = CodePath,
                };
            }

            settings["ClusterProxyInVpc"] = new StreamingApiStackSettings
            {
                CodePath = CodePath, SubnetIds = ["subnet-1"], SecurityGroupIds = ["sg-1"],
                Database = new DatabaseSettings { SecretArn = "arn:aws:secretsmanager:eu-west-1:1:secret:db", ClusterIdentifier = "app-cluster" },
            };
            settings["VpcWithoutDatabase"] = new StreamingApiStackSettings { CodePath = CodePath, SubnetIds = ["subnet-1"], SecurityGroupIds = ["sg-1"] };
            settings["CloudFrontWithAliasAndWaf"] = new StreamingApiStackSettings
            {
                CodePath = CodePath, FrontDoor = FrontDoor.CloudFront, DomainName = "api.example.com",
                CertificateArn = "arn:aws:acm:us-east-1:1:certificate/x", WebAclArn = "arn:aws:wafv2:us-east-1:1:global/webacl/x/1",
            };
            settings["CloudFrontShortTimeout"] = new StreamingApiStackSettings { CodePath = CodePath, FrontDoor = FrontDoor.CloudFront, TimeoutSeconds = 30 };
            settings["CloudFrontLongTimeout"] = new StreamingApiStackSettings { CodePath = CodePath, FrontDoor = FrontDoor.CloudFront, TimeoutSeconds = 900 };
            settings["CloudFrontRaisedQuota"] = new StreamingApiStackSettings { CodePath = CodePath, FrontDoor = FrontDoor.CloudFront, TimeoutSeconds = 900, OriginTimeoutSeconds = 180 };
            settings[CloudFrontWithDatabase] = new StreamingApiStackSettings
            {
                CodePath = CodePath, FrontDoor = FrontDoor.CloudFront, SnapStart = true, SubnetIds = ["subnet-1"], SecurityGroupIds = ["sg-1"],
                Database = new DatabaseSettings { SecretArn = "arn:aws:secretsmanager:eu-west-1:1:secret:db", InstanceIdentifier = "app-db" },
            };
            settings[StreamingRestApi] = new StreamingApiStackSettings { CodePath = CodePath, FrontDoor = FrontDoor.RestApi };
            settings[StreamingPublicUrl] = new StreamingApiStackSettings { CodePath = CodePath };
            Settings = settings;

            var app = new App(new AppProps { Outdir = _work.Combine("cdk.out") });
            foreach (var (name, stackSettings) in settings)
            {
                _ = new StreamingApiStack(app, name, stackSettings);
            }

            var assembly = app.Synth();
            foreach (var name in settings.Keys)
            {
                _resources[name] = DeploymentRules.FromSynthesized(JsonNode.Parse(JsonSerializer.Serialize(assembly.GetStackByName(name).Template))!);
            }
        }

        public string CodePath { get; }

        public IReadOnlyDictionary<string, StreamingApiStackSettings> Settings { get; }

        internal IReadOnlyDictionary<string, DeployedResource> Resources(string stack) => _resources[stack];

        public void Dispose() => _work.Dispose();
    }
}
