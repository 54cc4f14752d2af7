using Amazon.CDK;
using Amazon.CDK.AWS.Lambda;
using Constructs;
using LambdaStreamingHosting;

namespace StreamingApi.Cdk;

/// <summary>How Lambda starts the app.</summary>
public enum FunctionBuild
{
    /// <summary>The managed dotnet10 runtime starts the executable assembly named by the handler.</summary>
    Managed,

    /// <summary>provided.al2023 starts the Native AOT executable, named bootstrap.</summary>
    NativeAot,
}

/// <summary>What the stack deploys.</summary>
public sealed class StreamingApiStackSettings
{
    /// <summary>How the app answers; the Function URL gets the matching InvokeMode.</summary>
    public LambdaInvokeMode InvokeMode { get; init; } = LambdaInvokeMode.ResponseStream;

    /// <summary>Managed runtime or Native AOT.</summary>
    public FunctionBuild Build { get; init; } = FunctionBuild.Managed;

    /// <summary>The published app (deploy.sh --publish-only writes it to deploy/.build/function).</summary>
    public required string CodePath { get; init; }

    /// <summary>The example's assembly name: the managed runtime's handler.</summary>
    public string AssemblyName { get; init; } = "StreamingApi";
}

/// <summary>The example behind a Function URL whose InvokeMode always matches the app's <see cref="LambdaStreamingOptions.InvokeMode"/>.</summary>
public sealed class StreamingApiStack : Stack
{
    /// <summary>The environment variable the app reads <see cref="LambdaStreamingOptions.InvokeMode"/> from.</summary>
    public static readonly string InvokeModeVariable = $"{LambdaStreamingOptions.ConfigurationSectionName}__{nameof(LambdaStreamingOptions.InvokeMode)}";

    public StreamingApiStack(Construct scope, string id, StreamingApiStackSettings settings, IStackProps? props = null)
        : base(scope, id, props)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var nativeAot = settings.Build == FunctionBuild.NativeAot;
        var function = new Function(this, "AppFunction", new FunctionProps
        {
            // Named here: this CDK version predates both runtime constants.
            Runtime = nativeAot ? new Runtime("provided.al2023", RuntimeFamily.OTHER) : new Runtime("dotnet10", RuntimeFamily.DOTNET_CORE),
            Handler = nativeAot ? "bootstrap" : settings.AssemblyName,
            Code = Code.FromAsset(settings.CodePath),
            Architecture = Architecture.X86_64,
            MemorySize = 1024,
            Timeout = Duration.Seconds(60),
            Environment = new Dictionary<string, string>
            {
                // One value, two places: the app's setting and (below) the URL's InvokeMode.
                [InvokeModeVariable] = settings.InvokeMode.ToString(),
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
            },
        });

        var url = function.AddFunctionUrl(new FunctionUrlOptions
        {
            AuthType = FunctionUrlAuthType.NONE,
            InvokeMode = UrlInvokeMode(settings.InvokeMode),
        });

        // A public URL needs lambda:InvokeFunction too (since October 2025), limited to calls through the URL.
        var invoke = new CfnPermission(this, "AppPublicInvokePermission", new CfnPermissionProps
        {
            Action = "lambda:InvokeFunction",
            FunctionName = function.FunctionName,
            Principal = "*",
        });
        invoke.AddPropertyOverride("InvokedViaFunctionUrl", true);

        _ = new CfnOutput(this, "FunctionUrl", new CfnOutputProps { Value = url.Url });
    }

    /// <summary>The Function URL InvokeMode that matches the app's <paramref name="mode"/>.</summary>
    public static InvokeMode UrlInvokeMode(LambdaInvokeMode mode) => mode switch
    {
        LambdaInvokeMode.ResponseStream => InvokeMode.RESPONSE_STREAM,
        LambdaInvokeMode.Buffered => InvokeMode.BUFFERED,
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown LambdaInvokeMode."),
    };
}
