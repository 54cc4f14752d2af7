using Amazon.CDK;
using LambdaStreamingHosting;
using StreamingApi.Cdk;

// cdk synth -c invokeMode=Buffered -c build=NativeAot
// (publish first: ../StreamingApi/deploy/deploy.sh --publish-only --build NativeAot)
var app = new App();
var settings = new StreamingApiStackSettings
{
    InvokeMode = ParseContext<LambdaInvokeMode>(app, "invokeMode", LambdaInvokeMode.ResponseStream),
    Build = ParseContext<FunctionBuild>(app, "build", FunctionBuild.Managed),
    CodePath = Context(app, "codePath", Path.Combine("..", "StreamingApi", "deploy", ".build", "function")),
};
_ = new StreamingApiStack(app, "StreamingApi", settings);
app.Synth();

static string Context(App app, string key, string fallback) => app.Node.TryGetContext(key) as string ?? fallback;

static T ParseContext<T>(App app, string key, T fallback)
    where T : struct, Enum
{
    var text = Context(app, key, fallback.ToString());
    return Enum.TryParse<T>(text, ignoreCase: true, out var value) && Enum.IsDefined(value)
        ? value
        : throw new ArgumentException($"Context '{key}' is '{text}'; use one of: {string.Join(", ", Enum.GetNames<T>())} (cdk synth -c {key}=...).");
}
