using Amazon.CDK;
using Amazon.CDK.AWS.APIGateway;
using Amazon.CDK.AWS.CloudFront;
using Amazon.CDK.AWS.IAM;
using Amazon.CDK.AWS.Lambda;
using Amazon.CDK.AWS.RDS;
using Constructs;
using LambdaStreamingHosting;
using CloudFrontFunction = Amazon.CDK.AWS.CloudFront.CfnFunction;
using LambdaFunction = Amazon.CDK.AWS.Lambda.Function;

namespace StreamingApi.Cdk;

/// <summary>How Lambda starts the app.</summary>
public enum FunctionBuild
{
    /// <summary>The managed dotnet10 runtime starts the executable assembly named by the handler.</summary>
    Managed,

    /// <summary>provided.al2023 starts the Native AOT executable, named bootstrap.</summary>
    NativeAot,
}

/// <summary>The one way into the app.</summary>
public enum FrontDoor
{
    /// <summary>A Function URL anyone can call.</summary>
    PublicUrl,

    /// <summary>A Function URL that requires SigV4-signed requests.</summary>
    IamUrl,

    /// <summary>A CloudFront distribution in front of a closed (AWS_IAM) Function URL that only it may invoke.</summary>
    CloudFront,

    /// <summary>An API Gateway REST API with a Lambda proxy integration (streaming or buffered), and no Function URL.</summary>
    RestApi,
}

/// <summary>PostgreSQL through RDS Proxy: a proxy created for an existing database, or an existing proxy.</summary>
public sealed class DatabaseSettings
{
    /// <summary>The Secrets Manager secret with the database's <c>username</c> and <c>password</c>.</summary>
    public required string SecretArn { get; init; }

    /// <summary>An RDS for PostgreSQL instance to create the proxy for.</summary>
    public string? InstanceIdentifier { get; init; }

    /// <summary>An Aurora PostgreSQL cluster to create the proxy for.</summary>
    public string? ClusterIdentifier { get; init; }

    /// <summary>An existing proxy's endpoint to connect through (no proxy is created).</summary>
    public string? ProxyEndpoint { get; init; }

    /// <summary>The database to connect to.</summary>
    public string DatabaseName { get; init; } = "postgres";
}

/// <summary>What the stack deploys.</summary>
public sealed class StreamingApiStackSettings
{
    /// <summary>How the app answers; the front door gets the matching mode.</summary>
    public LambdaInvokeMode InvokeMode { get; init; } = LambdaInvokeMode.ResponseStream;

    /// <summary>Managed runtime or Native AOT.</summary>
    public FunctionBuild Build { get; init; } = FunctionBuild.Managed;

    /// <summary>The one way into the app.</summary>
    public FrontDoor FrontDoor { get; init; } = FrontDoor.PublicUrl;

    /// <summary>SnapStart on published versions (managed runtime only).</summary>
    public bool SnapStart { get; init; }

    /// <summary>The function timeout, 1 to 900 s. A streamed response ends when the function times out.</summary>
    public int TimeoutSeconds { get; init; } = 60;

    /// <summary>
    /// CloudFront: the origin's read and keep-alive timeouts. Default: the function timeout, at most 60 s (CloudFront's
    /// default quota); up to 180 s after a quota increase.
    /// </summary>
    public int? OriginTimeoutSeconds { get; init; }

    /// <summary>CloudFront, optional: an alias for the distribution; needs <see cref="CertificateArn"/>.</summary>
    public string? DomainName { get; init; }

    /// <summary>CloudFront, with <see cref="DomainName"/>: an ACM certificate in us-east-1.</summary>
    public string? CertificateArn { get; init; }

    /// <summary>CloudFront, optional: a WAF web ACL (scope CLOUDFRONT).</summary>
    public string? WebAclArn { get; init; }

    /// <summary>Private subnets to attach the function (and the proxy) to; with <see cref="SecurityGroupIds"/>.</summary>
    public IReadOnlyList<string> SubnetIds { get; init; } = [];

    /// <summary>Security groups for the function and the proxy.</summary>
    public IReadOnlyList<string> SecurityGroupIds { get; init; } = [];

    /// <summary>PostgreSQL through RDS Proxy; needs the VPC.</summary>
    public DatabaseSettings? Database { get; init; }

    /// <summary>The published app (deploy.sh --publish-only writes it to deploy/.build/function).</summary>
    public required string CodePath { get; init; }

    /// <summary>The example's assembly name: the managed runtime's handler.</summary>
    public string AssemblyName { get; init; } = "StreamingApi";

    /// <summary>The origin timeout CloudFront gets.</summary>
    public int EffectiveOriginTimeoutSeconds => OriginTimeoutSeconds ?? Math.Min(TimeoutSeconds, 60);

    /// <summary>The combinations that cannot work, each with what to change (the SAM template's Rules).</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (SnapStart && Build != FunctionBuild.Managed)
        {
            problems.Add("SnapStart works on the managed dotnet10 runtime only, not on provided.al2023 (Native AOT).");
        }

        if (TimeoutSeconds is < 1 or > 900)
        {
            problems.Add("TimeoutSeconds must be 1 to 900.");
        }

        if (OriginTimeoutSeconds is < 1 or > 180)
        {
            problems.Add("OriginTimeoutSeconds must be 1 to 180 (over 60 needs a CloudFront quota increase).");
        }

        if (FrontDoor != FrontDoor.CloudFront && (DomainName is not null || CertificateArn is not null || WebAclArn is not null || OriginTimeoutSeconds is not null))
        {
            problems.Add("DomainName, CertificateArn, WebAclArn and OriginTimeoutSeconds apply to FrontDoor.CloudFront only.");
        }

        if ((DomainName is null) != (CertificateArn is null))
        {
            problems.Add("Give both DomainName and CertificateArn, or neither.");
        }

        if ((SubnetIds.Count == 0) != (SecurityGroupIds.Count == 0))
        {
            problems.Add("Give both SubnetIds and SecurityGroupIds, or neither.");
        }

        if (Database is { } database)
        {
            if (SubnetIds.Count == 0)
            {
                problems.Add("RDS Proxy is reached inside a VPC only; give SubnetIds and SecurityGroupIds.");
            }

            if (new[] { database.InstanceIdentifier, database.ClusterIdentifier, database.ProxyEndpoint }.Count(v => v is not null) != 1)
            {
                problems.Add("Give exactly one of Database.InstanceIdentifier, ClusterIdentifier or ProxyEndpoint.");
            }
        }

        return problems;
    }
}

/// <summary>
/// The example behind one front door whose mode always matches the app's <see cref="LambdaStreamingOptions.InvokeMode"/>,
/// optionally in a VPC with PostgreSQL through RDS Proxy, and with SnapStart. The same deployment as
/// <c>examples/StreamingApi/deploy/template.yaml</c>; CloudFront, API Gateway and RDS Proxy are written with the
/// CloudFormation-level (Cfn*) constructs, which this CDK version has for all of them (origin access control of type
/// lambda, the REST integration's response transfer mode).
/// </summary>
public sealed class StreamingApiStack : Stack
{
    /// <summary>The environment variable the app reads <see cref="LambdaStreamingOptions.InvokeMode"/> from.</summary>
    public static readonly string InvokeModeVariable = $"{LambdaStreamingOptions.ConfigurationSectionName}__{nameof(LambdaStreamingOptions.InvokeMode)}";

    /// <summary>The environment variable the app reads <see cref="LambdaStreamingOptions.EventSource"/> from.</summary>
    public static readonly string EventSourceVariable = $"{LambdaStreamingOptions.ConfigurationSectionName}__{nameof(LambdaStreamingOptions.EventSource)}";

    /// <summary>The alias every deploy points at its newly published version; the front door calls it.</summary>
    public const string AliasName = "live";

    /// <summary>CloudFront's managed CachingDisabled cache policy.</summary>
    public const string CachingDisabledPolicyId = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";

    /// <summary>CloudFront's managed AllViewerExceptHostHeader origin request policy.</summary>
    public const string AllViewerExceptHostHeaderPolicyId = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

    /// <summary>RDS Proxy closes client connections idle this long: longer than <see cref="ThawClearThreshold"/>.</summary>
    public const int ProxyIdleClientTimeoutSeconds = 1800;

    /// <summary>The app's <c>LambdaStreaming:Database:ThawClearThreshold</c>.</summary>
    public const string ThawClearThreshold = "00:05:00";

    /// <summary>The viewer-request CloudFront function: the viewer's host to the app as X-Forwarded-Host.</summary>
    public const string ViewerHostFunctionCode = """
        function handler(event) {
          var request = event.request;
          request.headers['x-forwarded-host'] = { value: request.headers.host.value };
          return request;
        }
        """;

    public StreamingApiStack(Construct scope, string id, StreamingApiStackSettings settings, IStackProps? props = null)
        : base(scope, id, props)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var problems = settings.Problems();
        if (problems.Count > 0)
        {
            throw new ArgumentException("The stack settings cannot work together: " + string.Join(" ", problems), nameof(settings));
        }

        var nativeAot = settings.Build == FunctionBuild.NativeAot;
        var environment = new Dictionary<string, string>
        {
            // One value, two places: the app's setting and the front door's mode (below).
            [InvokeModeVariable] = settings.InvokeMode.ToString(),
            [EventSourceVariable] = (settings.FrontDoor == FrontDoor.RestApi ? LambdaEventSource.RestApi : LambdaEventSource.FunctionUrl).ToString(),
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        if (settings.FrontDoor == FrontDoor.CloudFront)
        {
            // Only the distribution reaches the closed URL, and it overwrites X-Forwarded-Host: the app may trust it.
            environment["FrontDoor__TrustForwardedHost"] = "true";
        }

        var function = new LambdaFunction(this, "AppFunction", new Amazon.CDK.AWS.Lambda.FunctionProps
        {
            // Named here: this CDK version predates both runtime constants.
            Runtime = nativeAot ? new Runtime("provided.al2023", RuntimeFamily.OTHER) : new Runtime("dotnet10", RuntimeFamily.DOTNET_CORE),
            Handler = nativeAot ? "bootstrap" : settings.AssemblyName,
            Code = Code.FromAsset(settings.CodePath),
            Architecture = Architecture.X86_64,
            MemorySize = 1024,
            Timeout = Duration.Seconds(settings.TimeoutSeconds),
            Environment = environment,
        });
        var cfnFunction = (Amazon.CDK.AWS.Lambda.CfnFunction)function.Node.DefaultChild!;
        cfnFunction.SnapStart = new Amazon.CDK.AWS.Lambda.CfnFunction.SnapStartProperty { ApplyOn = settings.SnapStart ? "PublishedVersions" : "None" };
        if (settings.SubnetIds.Count > 0)
        {
            cfnFunction.VpcConfig = new Amazon.CDK.AWS.Lambda.CfnFunction.VpcConfigProperty { SubnetIds = [.. settings.SubnetIds], SecurityGroupIds = [.. settings.SecurityGroupIds] };
            function.Role!.AddManagedPolicy(ManagedPolicy.FromAwsManagedPolicyName("service-role/AWSLambdaVPCAccessExecutionRole"));
        }

        if (settings.Database is { } database)
        {
            AddDatabase(function, database, settings);
        }

        // Every deploy publishes a version and points the alias at it (SnapStart restores published versions only).
        var alias = new Alias(this, "AppAlias", new AliasProps { AliasName = AliasName, Version = function.CurrentVersion });

        switch (settings.FrontDoor)
        {
            case FrontDoor.PublicUrl:
                var publicUrl = new FunctionUrl(this, "AppFunctionUrl", new FunctionUrlProps { Function = alias, AuthType = FunctionUrlAuthType.NONE, InvokeMode = UrlInvokeMode(settings.InvokeMode) });
                // The URL construct grants lambda:InvokeFunctionUrl to everyone; a public URL needs lambda:InvokeFunction
                // too (since October 2025), limited to calls through the URL.
                var publicInvoke = new Amazon.CDK.AWS.Lambda.CfnPermission(this, "AppPublicInvokePermission", new Amazon.CDK.AWS.Lambda.CfnPermissionProps
                {
                    Action = "lambda:InvokeFunction",
                    FunctionName = alias.FunctionArn,
                    Principal = "*",
                });
                publicInvoke.AddPropertyOverride("InvokedViaFunctionUrl", true);
                _ = new CfnOutput(this, "Url", new CfnOutputProps { Value = publicUrl.Url });
                break;
            case FrontDoor.IamUrl:
                var iamUrl = new FunctionUrl(this, "AppFunctionUrl", new FunctionUrlProps { Function = alias, AuthType = FunctionUrlAuthType.AWS_IAM, InvokeMode = UrlInvokeMode(settings.InvokeMode) });
                _ = new CfnOutput(this, "Url", new CfnOutputProps { Value = iamUrl.Url });
                break;
            case FrontDoor.CloudFront:
                AddCloudFront(alias, settings);
                break;
            case FrontDoor.RestApi:
                AddRestApi(alias, settings);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(settings), settings.FrontDoor, "Unknown FrontDoor.");
        }
    }

    /// <summary>The Function URL InvokeMode that matches the app's <paramref name="mode"/>.</summary>
    public static InvokeMode UrlInvokeMode(LambdaInvokeMode mode) => mode switch
    {
        LambdaInvokeMode.ResponseStream => InvokeMode.RESPONSE_STREAM,
        LambdaInvokeMode.Buffered => InvokeMode.BUFFERED,
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown LambdaInvokeMode."),
    };

    private void AddCloudFront(Alias alias, StreamingApiStackSettings settings)
    {
        // The URL is closed: only requests CloudFront signs (origin access control) get in.
        var url = new FunctionUrl(this, "AppFunctionUrl", new FunctionUrlProps { Function = alias, AuthType = FunctionUrlAuthType.AWS_IAM, InvokeMode = UrlInvokeMode(settings.InvokeMode) });
        var originAccess = new CfnOriginAccessControl(this, "AppOriginAccessControl", new CfnOriginAccessControlProps
        {
            OriginAccessControlConfig = new CfnOriginAccessControl.OriginAccessControlConfigProperty
            {
                Name = $"{StackName}-function-url",
                OriginAccessControlOriginType = "lambda",
                SigningBehavior = "always",
                SigningProtocol = "sigv4",
            },
        });
        var viewerHost = new CloudFrontFunction(this, "AppViewerHost", new Amazon.CDK.AWS.CloudFront.CfnFunctionProps
        {
            Name = $"{StackName}-viewer-host",
            AutoPublish = true,
            FunctionConfig = new CloudFrontFunction.FunctionConfigProperty { Comment = "Passes the viewer's host to the app as X-Forwarded-Host.", Runtime = "cloudfront-js-2.0" },
            FunctionCode = ViewerHostFunctionCode,
        });
        var withDomain = settings.DomainName is not null;
        var distribution = new CfnDistribution(this, "AppDistribution", new CfnDistributionProps
        {
            DistributionConfig = new CfnDistribution.DistributionConfigProperty
            {
                Enabled = true,
                Comment = "The app's only entry point",
                HttpVersion = "http2and3",
                Aliases = withDomain ? [settings.DomainName!] : null,
                ViewerCertificate = withDomain
                    ? new CfnDistribution.ViewerCertificateProperty { AcmCertificateArn = settings.CertificateArn, SslSupportMethod = "sni-only", MinimumProtocolVersion = "TLSv1.2_2021" }
                    : new CfnDistribution.ViewerCertificateProperty { CloudFrontDefaultCertificate = true },
                WebAclId = settings.WebAclArn,
                Origins = new object[]
                {
                    new CfnDistribution.OriginProperty
                    {
                        Id = "function-url",
                        DomainName = Fn.Select(2, Fn.Split("/", url.Url)),
                        OriginAccessControlId = originAccess.AttrId,
                        CustomOriginConfig = new CfnDistribution.CustomOriginConfigProperty
                        {
                            OriginProtocolPolicy = "https-only",
                            OriginSslProtocols = ["TLSv1.2"],
                            OriginReadTimeout = settings.EffectiveOriginTimeoutSeconds,
                            OriginKeepaliveTimeout = settings.EffectiveOriginTimeoutSeconds,
                        },
                    },
                },
                DefaultCacheBehavior = new CfnDistribution.DefaultCacheBehaviorProperty
                {
                    TargetOriginId = "function-url",
                    ViewerProtocolPolicy = "redirect-to-https",
                    AllowedMethods = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
                    CachedMethods = ["GET", "HEAD"],
                    Compress = false,
                    CachePolicyId = CachingDisabledPolicyId,
                    OriginRequestPolicyId = AllViewerExceptHostHeaderPolicyId,
                    FunctionAssociations = new object[]
                    {
                        new CfnDistribution.FunctionAssociationProperty { EventType = "viewer-request", FunctionArn = viewerHost.AttrFunctionMetadataFunctionArn },
                    },
                },
            },
        });

        // Only this distribution may invoke, and only through the URL.
        var distributionArn = $"arn:{Aws.PARTITION}:cloudfront::{Aws.ACCOUNT_ID}:distribution/{distribution.Ref}";
        _ = new Amazon.CDK.AWS.Lambda.CfnPermission(this, "AppCloudFrontUrlPermission", new Amazon.CDK.AWS.Lambda.CfnPermissionProps
        {
            Action = "lambda:InvokeFunctionUrl",
            FunctionName = alias.FunctionArn,
            Principal = "cloudfront.amazonaws.com",
            SourceAccount = Aws.ACCOUNT_ID,
            SourceArn = distributionArn,
        });
        var invoke = new Amazon.CDK.AWS.Lambda.CfnPermission(this, "AppCloudFrontInvokePermission", new Amazon.CDK.AWS.Lambda.CfnPermissionProps
        {
            Action = "lambda:InvokeFunction",
            FunctionName = alias.FunctionArn,
            Principal = "cloudfront.amazonaws.com",
            SourceAccount = Aws.ACCOUNT_ID,
            SourceArn = distributionArn,
        });
        invoke.AddPropertyOverride("InvokedViaFunctionUrl", true);

        _ = new CfnOutput(this, "Url", new CfnOutputProps { Value = withDomain ? $"https://{settings.DomainName}/" : $"https://{distribution.AttrDomainName}/" });
        _ = new CfnOutput(this, "DistributionDomainName", new CfnOutputProps { Value = distribution.AttrDomainName });
    }

    private void AddRestApi(Alias alias, StreamingApiStackSettings settings)
    {
        var streams = settings.InvokeMode == LambdaInvokeMode.ResponseStream;
        var api = new CfnRestApi(this, "AppRestApi", new CfnRestApiProps
        {
            Name = $"{StackName}-app",
            EndpointConfiguration = new CfnRestApi.EndpointConfigurationProperty { Types = ["REGIONAL"] },
            BinaryMediaTypes = ["*/*"],
        });
        var proxy = new Amazon.CDK.AWS.APIGateway.CfnResource(this, "AppRestApiProxyResource", new Amazon.CDK.AWS.APIGateway.CfnResourceProps { RestApiId = api.Ref, ParentId = api.AttrRootResourceId, PathPart = "{proxy+}" });

        // Streaming: the response-streaming invocation and responseTransferMode STREAM (up to 15 minutes).
        var uri = streams
            ? $"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}:lambda:path/2021-11-15/functions/{alias.FunctionArn}/response-streaming-invocations"
            : $"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}:lambda:path/2015-03-31/functions/{alias.FunctionArn}/invocations";
        CfnMethod Method(string id, string resourceId)
        {
            var method = new CfnMethod(this, id, new CfnMethodProps
            {
                RestApiId = api.Ref,
                ResourceId = resourceId,
                HttpMethod = "ANY",
                AuthorizationType = "NONE",
                Integration = new CfnMethod.IntegrationProperty
                {
                    Type = "AWS_PROXY",
                    IntegrationHttpMethod = "POST",
                    Uri = uri,
                    TimeoutInMillis = streams ? 900_000 : 29_000,
                },
            });
            // This CDK version predates the property.
            method.AddPropertyOverride("Integration.ResponseTransferMode", streams ? "STREAM" : "BUFFERED");
            return method;
        }

        var rootMethod = Method("AppRestApiRootMethod", api.AttrRootResourceId);
        var proxyMethod = Method("AppRestApiProxyMethod", proxy.Ref);
        var deployment = new CfnDeployment(this, "AppRestApiDeployment", new CfnDeploymentProps { RestApiId = api.Ref });
        deployment.AddDependency(rootMethod);
        deployment.AddDependency(proxyMethod);
        _ = new CfnStage(this, "AppRestApiStage", new CfnStageProps { RestApiId = api.Ref, DeploymentId = deployment.Ref, StageName = "prod" });

        _ = new Amazon.CDK.AWS.Lambda.CfnPermission(this, "AppRestApiInvokePermission", new Amazon.CDK.AWS.Lambda.CfnPermissionProps
        {
            Action = "lambda:InvokeFunction",
            FunctionName = alias.FunctionArn,
            Principal = "apigateway.amazonaws.com",
            SourceAccount = Aws.ACCOUNT_ID,
            SourceArn = $"arn:{Aws.PARTITION}:execute-api:{Aws.REGION}:{Aws.ACCOUNT_ID}:{api.Ref}/*",
        });
        _ = new CfnOutput(this, "Url", new CfnOutputProps { Value = $"https://{api.Ref}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}/prod/" });
    }

    private void AddDatabase(LambdaFunction function, DatabaseSettings database, StreamingApiStackSettings settings)
    {
        string endpoint;
        if (database.ProxyEndpoint is { } given)
        {
            endpoint = given;
        }
        else
        {
            var role = new Role(this, "DatabaseProxyRole", new RoleProps { AssumedBy = new ServicePrincipal("rds.amazonaws.com") });
            role.AddToPolicy(new PolicyStatement(new PolicyStatementProps { Actions = ["secretsmanager:GetSecretValue"], Resources = [database.SecretArn] }));
            var proxy = new CfnDBProxy(this, "DatabaseProxy", new CfnDBProxyProps
            {
                DbProxyName = $"{StackName}-postgres",
                EngineFamily = "POSTGRESQL",
                RoleArn = role.RoleArn,
                Auth = new object[] { new CfnDBProxy.AuthFormatProperty { AuthScheme = "SECRETS", SecretArn = database.SecretArn, IamAuth = "DISABLED" } },
                RequireTls = true,
                IdleClientTimeout = ProxyIdleClientTimeoutSeconds,
                VpcSubnetIds = [.. settings.SubnetIds],
                VpcSecurityGroupIds = [.. settings.SecurityGroupIds],
            });
            _ = new CfnDBProxyTargetGroup(this, "DatabaseProxyTargetGroup", new CfnDBProxyTargetGroupProps
            {
                DbProxyName = proxy.Ref,
                TargetGroupName = "default",
                DbInstanceIdentifiers = database.InstanceIdentifier is { } instance ? [instance] : null,
                DbClusterIdentifiers = database.ClusterIdentifier is { } cluster ? [cluster] : null,
            });
            endpoint = proxy.AttrEndpoint;
        }

        // Resolved by CloudFormation at deploy time from the secret (the value then sits in the function's
        // configuration, readable by whoever may read that).
        var username = $"{{{{resolve:secretsmanager:{database.SecretArn}:SecretString:username}}}}";
        var password = $"{{{{resolve:secretsmanager:{database.SecretArn}:SecretString:password}}}}";
        function.AddEnvironment("ConnectionStrings__Postgres",
            $"Host={endpoint};Port=5432;Database={database.DatabaseName};Username={username};Password={password};SSL Mode=Require;Maximum Pool Size=2");
        // One invocation at a time per environment: one warm connection; connections idle past the threshold are closed.
        function.AddEnvironment("LambdaStreaming__Database__WarmConnections", "1");
        function.AddEnvironment("LambdaStreaming__Database__ThawClearThreshold", ThawClearThreshold);
    }
}
