using System.Globalization;
using LambdaStreamingHosting.Testing;

namespace LambdaStreamingHosting.Tool;

/// <summary>Parses <c>lambda-streaming</c> arguments. Hand-written: small, AOT-friendly, exact error messages.</summary>
internal static class CommandLine
{
    public const string Usage = """
        Usage: lambda-streaming run [options] --project <path>
               lambda-streaming run [options] -- <command> [arguments...]

        Runs an ASP.NET Core app that calls AddLambdaStreaming() as a separate process under a local AWS Lambda
        emulator, prints the Function URL, and prints one line per invocation as it ends:
        request id, method, path, status, response bytes, time to first byte, duration, error type.
        The Function URL also serves a live timeline page at /_lambda/ (requests to /_lambda/... never reach the app):
        each invocation as it happens, with the moments its response body reached the client.
        Ctrl+C stops the emulator and the app.

        Options:
          --project <path>            Build the project (dotnet build) and run its output with dotnet.
          -c, --configuration <name>  Build configuration for --project. Default: Release.
          --artifacts-path <path>     Build output folder for --project. Default: the project's bin and obj folders.
          --port <number>             Function URL port (0 = any free port). Default: 5050.
          --api-port <number>         Port of Lambda's invoke API (Invoke, InvokeWithResponseStream) for AWS SDK
                                      callers (0 = any free port). Default: the Function URL port + 1 (0 with --port 0).
          --freeze                    Freeze the app (SIGSTOP) while idle and thaw it (SIGCONT) per event, as Lambda does.
          --snap-start                SnapStart as Lambda runs it: the app starts with AWS_LAMBDA_INITIALIZATION_TYPE=snap-start,
                                      is frozen when it asks /restore/next (the snapshot) and continued for the first
                                      event (the restore), which must reach /next within 10 s. Implies --freeze.
          --timeout <duration>        Function timeout, e.g. 30s, 500ms, 2m (1 ms to 15m). Default: 30s.
          --buffered                  BUFFERED Function URL; also sets LambdaStreaming__InvokeMode=Buffered in the app.
          --handler <name>            The function's handler (_HANDLER), e.g. index.handler, for a runtime interface
                                      client; LAMBDA_TASK_ROOT is then the working directory, as /var/task is in Lambda.
          -e, --env <NAME=VALUE>      Set an environment variable in the app (repeatable).
          --no-timeline               Serve no timeline page: /_lambda/ goes to the app like any other path.
          -h, --help                  Show this help.

        Examples:
          lambda-streaming run --project examples/StreamingApi
          lambda-streaming run --port 8080 --freeze --timeout 10s -- dotnet bin/Release/net10.0/App.dll
          lambda-streaming run --handler index.handler -- node node_modules/aws-lambda-ric/index.mjs
        """;

    private static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(15);

    /// <summary>Parses the arguments; <see langword="null"/> means help was asked for.</summary>
    /// <exception cref="CommandLineException">The arguments are not valid; the message says why.</exception>
    public static RunSettings? Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0)
        {
            throw new CommandLineException("Missing command: use 'lambda-streaming run'.");
        }

        if (args[0] is "-h" or "--help" or "help")
        {
            return null;
        }

        if (args[0] != "run")
        {
            throw new CommandLineException($"Unknown command '{args[0]}': the only command is 'run'.");
        }

        string? project = null;
        var configuration = "Release";
        string? artifactsPath = null;
        var port = RunSettings.DefaultPort;
        int? apiPort = null;
        var freeze = false;
        var snapStart = false;
        var buffered = false;
        var timeline = true;
        var timeout = TimeSpan.FromSeconds(30);
        string? handler = null;
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        List<string> command = [];

        for (var index = 1; index < args.Count; index++)
        {
            var (name, inlineValue) = SplitOption(args[index]);
            string Value() => inlineValue ?? (index + 1 < args.Count ? args[++index] : throw new CommandLineException($"Option '{name}' needs a value."));

            switch (name)
            {
                case "--":
                    command = [.. args.Skip(index + 1)];
                    index = args.Count;
                    break;
                case "-h" or "--help":
                    return null;
                case "--project":
                    project = Value();
                    break;
                case "-c" or "--configuration":
                    configuration = Value();
                    break;
                case "--artifacts-path":
                    artifactsPath = Value();
                    break;
                case "--port":
                    port = ParsePort(Value(), name);
                    break;
                case "--api-port":
                    apiPort = ParsePort(Value(), name);
                    break;
                case "--freeze":
                    freeze = NoValue(name, inlineValue);
                    break;
                case "--snap-start":
                    snapStart = NoValue(name, inlineValue);
                    break;
                case "--buffered":
                    buffered = NoValue(name, inlineValue);
                    break;
                case "--no-timeline":
                    timeline = !NoValue(name, inlineValue);
                    break;
                case "--timeout":
                    timeout = ParseTimeout(Value());
                    break;
                case "--handler":
                    handler = ParseHandler(Value());
                    break;
                case "-e" or "--env":
                    var (variable, value) = ParseVariable(Value());
                    environment[variable] = value;
                    break;
                default:
                    throw new CommandLineException(name.StartsWith('-')
                        ? $"Unknown option '{name}'."
                        : $"Unexpected argument '{name}': put the app's command after '--', for example: lambda-streaming run -- dotnet App.dll");
            }
        }

        if (project is null && command.Count == 0)
        {
            throw new CommandLineException("Nothing to run: give --project <path> or a command after '--'.");
        }

        if (project is not null && command.Count > 0)
        {
            throw new CommandLineException("Give either --project or a command after '--', not both.");
        }

        if (project is null && (artifactsPath is not null || configuration != "Release"))
        {
            throw new CommandLineException("--configuration and --artifacts-path apply to --project only.");
        }

        if (string.IsNullOrWhiteSpace(configuration))
        {
            throw new CommandLineException("Option '--configuration' needs a name such as Release or Debug.");
        }

        return new RunSettings
        {
            ProjectPath = project,
            Configuration = configuration,
            ArtifactsPath = artifactsPath,
            Command = command,
            Port = port,
            ApiPort = apiPort ?? (port is 0 or 65535 ? 0 : port + 1),
            Freeze = freeze || snapStart,
            SnapStart = snapStart,
            Timeout = timeout,
            Buffered = buffered,
            Timeline = timeline,
            Handler = handler,
            Environment = environment,
        };
    }

    /// <summary>Parses a duration: a number followed by <c>ms</c>, <c>s</c> or <c>m</c>; a bare number is seconds.</summary>
    /// <exception cref="CommandLineException">The text is not such a duration, or it is not between 1 ms and 15 minutes.</exception>
    public static TimeSpan ParseTimeout(string text)
    {
        var (number, unit) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => (text[..^2], 1.0),
            _ when text.EndsWith('s') => (text[..^1], 1000.0),
            _ when text.EndsWith('m') => (text[..^1], 60_000.0),
            _ => (text, 1000.0),
        };
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            throw new CommandLineException($"Invalid --timeout '{text}': use a number with ms, s or m, for example 30s, 500ms or 2m.");
        }

        var timeout = TimeSpan.FromMilliseconds(value * unit);
        if (timeout < TimeSpan.FromMilliseconds(1) || timeout > MaxTimeout)
        {
            throw new CommandLineException($"Invalid --timeout '{text}': Lambda allows up to 15 minutes; give at least 1 ms and at most 15m.");
        }

        return timeout;
    }

    private static int ParsePort(string text, string option) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535
            ? port
            : throw new CommandLineException($"Invalid {option} '{text}': use a port number from 1 to 65535, or 0 for any free port.");

    private static string ParseHandler(string text) =>
        FunctionProcessOptions.HandlerProblem(text) is { } problem
            ? throw new CommandLineException($"Invalid --handler '{text}': {problem}")
            : text;

    private static (string Name, string Value) ParseVariable(string text)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        return equals > 0
            ? (text[..equals], text[(equals + 1)..])
            : throw new CommandLineException($"Invalid --env '{text}': use NAME=VALUE, for example --env ASPNETCORE_ENVIRONMENT=Development.");
    }

    private static bool NoValue(string name, string? inlineValue) =>
        inlineValue is null ? true : throw new CommandLineException($"Option '{name}' takes no value.");

    // "--port=5050" is the same as "--port 5050"; "--" and arguments that are not long options stay whole.
    private static (string Name, string? Value) SplitOption(string argument)
    {
        if (argument.StartsWith("--", StringComparison.Ordinal) && argument.IndexOf('=', StringComparison.Ordinal) is > 2 and var equals)
        {
            return (argument[..equals], argument[(equals + 1)..]);
        }

        return (argument, null);
    }
}

/// <summary>The command line is not valid: the message tells the user what to change.</summary>
internal sealed class CommandLineException(string message) : Exception(message);
