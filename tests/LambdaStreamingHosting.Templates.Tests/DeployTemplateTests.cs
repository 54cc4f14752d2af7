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

        var urlConfig = Assert.IsType<Dictionary<string, object?>>(function["FunctionUrlConfig"]);
        Assert.Equal(invokeMode, urlConfig["InvokeMode"]);

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
        Assert.Empty(_template.Resources("AWS::Lambda::Url"));
        var text = File.ReadAllText(RepositoryPaths.ExampleDeployTemplate);
        Assert.Equal(1, CountOccurrences(text, "InvokeMode: !Ref InvokeMode"));
        Assert.Equal(1, CountOccurrences(text, InvokeModeVariable + ":"));
    }

    [Fact]
    public void The_postgres_connection_string_is_only_set_when_given_and_never_echoed()
    {
        var without = Variables(FunctionProperties("RESPONSE_STREAM", "Managed"));
        Assert.False(without.ContainsKey("ConnectionStrings__Postgres"));

        var function = _template.Evaluate(FunctionNode(), Parameters("RESPONSE_STREAM", "Managed", ("PostgresConnectionString", "Host=db;Database=app")));
        var with = Variables(Assert.IsType<Dictionary<string, object?>>(function));
        Assert.Equal("Host=db;Database=app", with["ConnectionStrings__Postgres"]);
        Assert.Equal("true", ((YamlScalarNode)_template.Section("Parameters")["PostgresConnectionString"]["NoEcho"]).Value);
    }

    [Fact]
    public void A_public_url_also_grants_invoke_function_but_only_through_the_url()
    {
        var permissions = _template.Resources("AWS::Lambda::Permission");
        var (_, permission) = Assert.Single(permissions);
        var properties = Assert.IsType<Dictionary<string, object?>>(_template.Evaluate(permission["Properties"], Parameters("RESPONSE_STREAM", "Managed")));
        Assert.Equal("lambda:InvokeFunction", properties["Action"]);
        Assert.Equal("true", properties["InvokedViaFunctionUrl"]);
        var condition = ((YamlScalarNode)permission["Condition"]).Value!;
        Assert.True(_template.Condition(condition, Parameters("RESPONSE_STREAM", "Managed", ("UrlAuthType", "NONE"))));
        Assert.False(_template.Condition(condition, Parameters("RESPONSE_STREAM", "Managed", ("UrlAuthType", "AWS_IAM"))));
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
