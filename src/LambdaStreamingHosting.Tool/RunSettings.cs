namespace LambdaStreamingHosting.Tool;

/// <summary>What <c>lambda-streaming run</c> was asked to do.</summary>
internal sealed class RunSettings
{
    /// <summary>The default Function URL port.</summary>
    public const int DefaultPort = 5050;

    /// <summary>The project to build and run, when given with <c>--project</c>.</summary>
    public string? ProjectPath { get; init; }

    /// <summary>The build configuration for <see cref="ProjectPath"/>.</summary>
    public string Configuration { get; init; } = "Release";

    /// <summary>Where the build of <see cref="ProjectPath"/> writes its output (MSBuild <c>ArtifactsPath</c>), when given.</summary>
    public string? ArtifactsPath { get; init; }

    /// <summary>The command that starts the app (after <c>--</c>), when no project is given.</summary>
    public IReadOnlyList<string> Command { get; init; } = [];

    /// <summary>The Function URL port; 0 picks a free port.</summary>
    public int Port { get; init; } = DefaultPort;

    /// <summary>The port of Lambda's invoke API; 0 picks a free port.</summary>
    public int ApiPort { get; init; }

    /// <summary>Whether the app is frozen (<c>SIGSTOP</c>) between invocations.</summary>
    public bool Freeze { get; init; }

    /// <summary>Whether the app runs as SnapStart runs it (snapshot at <c>/restore/next</c>, restore for the first event).</summary>
    public bool SnapStart { get; init; }

    /// <summary>The function timeout.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether the Function URL is BUFFERED instead of RESPONSE_STREAM.</summary>
    public bool Buffered { get; init; }

    /// <summary>Whether the Function URL serves the live timeline page at <see cref="TimelinePath"/>.</summary>
    public bool Timeline { get; init; } = true;

    /// <summary>Where the timeline page is served on the Function URL.</summary>
    public const string TimelinePath = "/_lambda/";

    /// <summary>The function's handler (<c>_HANDLER</c>), when given with <c>--handler</c>.</summary>
    public string? Handler { get; init; }

    /// <summary>Extra environment variables for the app.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
}
