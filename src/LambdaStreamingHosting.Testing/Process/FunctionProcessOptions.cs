namespace LambdaStreamingHosting.Testing;

/// <summary>
/// How <see cref="FunctionProcess"/> starts the function: the command line, the environment it adds to the Lambda
/// variables, and whether it freezes the process while idle.
/// </summary>
public sealed class FunctionProcessOptions
{
    /// <summary>The program to start, for example <c>dotnet</c> or the path of a native executable.</summary>
    public string FileName { get; set; } = string.Empty;

    /// <summary>The arguments, one per item, passed without shell interpretation (for example <c>["bin/App.dll"]</c>).</summary>
    public IList<string> Arguments { get; init; } = [];

    /// <summary>
    /// Variables set in the function's environment after the Lambda variables, so they win over them. A
    /// <see langword="null"/> value removes a variable the process would otherwise inherit.
    /// </summary>
    public IDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>(StringComparer.Ordinal);

    /// <summary>The working directory (the app's content root). Default: the current directory.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>
    /// The function's handler, as its Lambda configuration names it (<c>_HANDLER</c>): <c>index.handler</c> for a
    /// Node.js function, <c>lambda_function.lambda_handler</c> for Python. A runtime interface client loads it from
    /// <c>LAMBDA_TASK_ROOT</c>, which is then the working directory: in Lambda both are the function's code folder,
    /// <c>/var/task</c>. Default: <see langword="null"/>, and <c>_HANDLER</c> is the app's name (<c>App</c> of
    /// <c>dotnet App.dll</c>, else the program's) with <c>LAMBDA_TASK_ROOT</c> the app's folder.
    /// </summary>
    public string? Handler { get; set; }

    /// <summary>
    /// Whether the process is really frozen (<c>SIGSTOP</c>) while idle and thawed (<c>SIGCONT</c>) when an event
    /// arrives, as Lambda does. Default: <see langword="false"/> (the process keeps running between events).
    /// </summary>
    public bool Freeze { get; set; }

    /// <summary>
    /// Whether the function is started as SnapStart starts it (<c>AWS_LAMBDA_INITIALIZATION_TYPE=snap-start</c>): with an
    /// emulator whose <see cref="LambdaEmulatorOptions.SnapStart"/> is set, it is frozen (<c>SIGSTOP</c>, with
    /// <see cref="Freeze"/>) when it asks <c>/runtime/restore/next</c>, the snapshot, and continued for its first event,
    /// the restore. Default: <see langword="false"/> (<c>on-demand</c>).
    /// </summary>
    public bool SnapStart { get; set; }

    /// <summary>The function name (<c>AWS_LAMBDA_FUNCTION_NAME</c>). Default: <c>function</c>.</summary>
    public string FunctionName { get; set; } = "function";

    /// <summary>The memory size in MB (<c>AWS_LAMBDA_FUNCTION_MEMORY_SIZE</c>). Default: 512.</summary>
    public int MemorySize { get; set; } = 512;

    /// <summary>The region (<c>AWS_REGION</c>). Default: <c>us-east-1</c>.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>
    /// How long a freeze may take to stop every thread before <see cref="FunctionProcess.FreezeAsync"/> fails.
    /// Default: 10 seconds.
    /// </summary>
    public TimeSpan FreezeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Receives each line the function writes to standard output. Default: none (lines are only kept for diagnostics).</summary>
    public Action<string>? StandardOutput { get; set; }

    /// <summary>
    /// Receives each line the function writes to standard error, and a line when the process is reset or exits by itself.
    /// Default: none (lines are only kept for diagnostics).
    /// </summary>
    public Action<string>? StandardError { get; set; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(FileName))
        {
            throw new ArgumentException("FunctionProcessOptions.FileName is empty: set the program to start, for example \"dotnet\".", nameof(FileName));
        }

        if (string.IsNullOrWhiteSpace(FunctionName))
        {
            throw new ArgumentException("FunctionProcessOptions.FunctionName is empty: set a function name such as \"function\".", nameof(FunctionName));
        }

        if (MemorySize is < 128 or > 10240)
        {
            throw new ArgumentOutOfRangeException(nameof(MemorySize), MemorySize, "FunctionProcessOptions.MemorySize must be between 128 and 10240 MB, as in Lambda.");
        }

        if (FreezeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(FreezeTimeout), FreezeTimeout, "FunctionProcessOptions.FreezeTimeout must be positive.");
        }

        if (Handler is not null && HandlerProblem(Handler) is { } problem)
        {
            throw new ArgumentException($"FunctionProcessOptions.Handler '{Handler}' is not valid: {problem}", nameof(Handler));
        }

        if (WorkingDirectory is not null && !Directory.Exists(WorkingDirectory))
        {
            throw new DirectoryNotFoundException($"FunctionProcessOptions.WorkingDirectory '{WorkingDirectory}' does not exist.");
        }
    }

    /// <summary>What is wrong with a handler name by Lambda's rule (1 to 128 characters, no white space), or null.</summary>
    internal static string? HandlerProblem(string handler) =>
        handler.Length is 0 or > 128 || handler.Any(char.IsWhiteSpace)
            ? "a Lambda handler has 1 to 128 characters and no white space, for example index.handler."
            : null;
}
