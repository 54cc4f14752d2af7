using System.Globalization;
using Amazon.CDK;
using LambdaStreamingHosting;
using StreamingApi.Cdk;

// cdk deploy -c invokeMode=ResponseStream -c build=Managed -c frontDoor=CloudFront -c snapStart=true
//   [-c timeout=60] [-c originTimeout=60] [-c domainName=api.example.com -c certificateArn=arn:...] [-c webAclArn=arn:...]
//   [-c subnetIds=subnet-a,subnet-b -c securityGroupIds=sg-1]
//   [-c databaseSecretArn=arn:... (-c databaseInstance=ID | -c databaseCluster=ID | -c databaseProxyEndpoint=HOST) [-c databaseName=postgres]]
// (publish first: ../StreamingApi/deploy/deploy.sh --publish-only [--build NativeAot])
var app = new App();
var secret = Optional(app, "databaseSecretArn");
var settings = new StreamingApiStackSettings
{
    InvokeMode = ParseContext<LambdaInvokeMode>(app, "invokeMode", LambdaInvokeMode.ResponseStream),
    Build = ParseContext<FunctionBuild>(app, "build", FunctionBuild.Managed),
    FrontDoor = ParseContext<FrontDoor>(app, "frontDoor", FrontDoor.PublicUrl),
    SnapStart = bool.Parse(Context(app, "snapStart", "false")),
    TimeoutSeconds = int.Parse(Context(app, "timeout", "60"), CultureInfo.InvariantCulture),
    OriginTimeoutSeconds = Optional(app, "originTimeout") is { } origin ? int.Parse(origin, CultureInfo.InvariantCulture) : null,
    DomainName = Optional(app, "domainName"),
    CertificateArn = Optional(app, "certificateArn"),
    WebAclArn = Optional(app, "webAclArn"),
    SubnetIds = List(app, "subnetIds"),
    SecurityGroupIds = List(app, "securityGroupIds"),
    Database = secret is null ? null : new DatabaseSettings
    {
        SecretArn = secret,
        InstanceIdentifier = Optional(app, "databaseInstance"),
        ClusterIdentifier = Optional(app, "databaseCluster"),
        ProxyEndpoint = Optional(app, "databaseProxyEndpoint"),
        DatabaseName = Context(app, "databaseName", "postgres"),
    },
    CodePath = Context(app, "codePath", Path.Combine("..", "StreamingApi", "deploy", ".build", "function")),
};
_ = new StreamingApiStack(app, "StreamingApi", settings);
app.Synth();

static string Context(App app, string key, string fallback) => app.Node.TryGetContext(key) as string ?? fallback;

static string? Optional(App app, string key) => app.Node.TryGetContext(key) as string is { Length: > 0 } value ? value : null;

static string[] List(App app, string key) =>
    Optional(app, key)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

static T ParseContext<T>(App app, string key, T fallback)
    where T : struct, Enum
{
    var text = Context(app, key, fallback.ToString());
    return Enum.TryParse<T>(text, ignoreCase: true, out var value) && Enum.IsDefined(value)
        ? value
        : throw new ArgumentException($"Context '{key}' is '{text}'; use one of: {string.Join(", ", Enum.GetNames<T>())} (cdk synth -c {key}=...).");
}
