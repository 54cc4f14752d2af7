using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.CDK;
using StreamingApi.Cdk;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// The C# CDK app (examples/StreamingApi.Cdk), synthesized for every invoke mode and build: the CloudFormation it
/// produces gives the Function URL and the app the same InvokeMode. Needs Node.js, as every CDK app does.
/// </summary>
public sealed class CdkAppTests
{
    [Fact]
    public void Every_synthesized_stack_gives_the_function_url_and_the_app_the_same_invoke_mode()
    {
        using var work = new TemporaryDirectory("lambda-streaming-cdk");
        var code = work.Combine("function");
        Directory.CreateDirectory(code);
        File.WriteAllText(Path.Combine(code, "bootstrap"), "placeholder for the published app");

        var app = new App(new AppProps { Outdir = work.Combine("cdk.out") });
        var stacks = new List<(string Name, LambdaInvokeMode Mode, FunctionBuild Build)>();
        foreach (var mode in Enum.GetValues<LambdaInvokeMode>())
        {
            foreach (var build in Enum.GetValues<FunctionBuild>())
            {
                var name = $"StreamingApi{mode}{build}";
                _ = new StreamingApiStack(app, name, new StreamingApiStackSettings { InvokeMode = mode, Build = build, CodePath = code });
                stacks.Add((name, mode, build));
            }
        }

        var assembly = app.Synth();
        foreach (var (name, mode, build) in stacks)
        {
            var template = JsonNode.Parse(JsonSerializer.Serialize(assembly.GetStackByName(name).Template))!;
            var function = Assert.Single(Resources(template, "AWS::Lambda::Function"))["Properties"]!;
            var url = Assert.Single(Resources(template, "AWS::Lambda::Url"))["Properties"]!;

            var appSetting = (string?)function["Environment"]!["Variables"]![StreamingApiStack.InvokeModeVariable];
            Assert.Equal(mode, Enum.Parse<LambdaInvokeMode>(appSetting!));
            Assert.Equal(mode == LambdaInvokeMode.ResponseStream ? "RESPONSE_STREAM" : "BUFFERED", (string?)url["InvokeMode"]);
            Assert.Equal(build == FunctionBuild.NativeAot ? "provided.al2023" : "dotnet10", (string?)function["Runtime"]);
            Assert.Equal(build == FunctionBuild.NativeAot ? "bootstrap" : "StreamingApi", (string?)function["Handler"]);

            var permission = Assert.Single(Resources(template, "AWS::Lambda::Permission"), p => (string?)p["Properties"]!["Action"] == "lambda:InvokeFunction")["Properties"]!;
            Assert.True((bool?)permission["InvokedViaFunctionUrl"]);
        }
    }

    [Fact]
    public void The_environment_variable_is_the_one_the_app_binds()
    {
        Assert.Equal("LambdaStreaming__InvokeMode", StreamingApiStack.InvokeModeVariable);
        Assert.Equal(Amazon.CDK.AWS.Lambda.InvokeMode.RESPONSE_STREAM, StreamingApiStack.UrlInvokeMode(new LambdaStreamingOptions().InvokeMode));
    }

    private static IEnumerable<JsonNode> Resources(JsonNode template, string type) =>
        template["Resources"]!.AsObject().Select(r => r.Value!).Where(r => (string?)r["Type"] == type);
}
