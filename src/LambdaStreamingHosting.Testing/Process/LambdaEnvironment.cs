using System.Globalization;
using System.Security.Cryptography;

namespace LambdaStreamingHosting.Testing;

/// <summary>The environment variables Lambda gives a custom runtime (spec section 1), for a function process.</summary>
internal static class LambdaEnvironment
{
    public static void Apply(IDictionary<string, string?> environment, FunctionProcessOptions options, string runtimeApiEndpoint)
    {
        var application = FindApplicationPath(options);
        environment["AWS_LAMBDA_RUNTIME_API"] = runtimeApiEndpoint;
        environment["AWS_LAMBDA_FUNCTION_NAME"] = options.FunctionName;
        environment["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST";
        environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = options.MemorySize.ToString(CultureInfo.InvariantCulture);
        environment["AWS_REGION"] = options.Region;
        environment["AWS_DEFAULT_REGION"] = options.Region;
        environment["AWS_LAMBDA_INITIALIZATION_TYPE"] = options.SnapStart ? "snap-start" : "on-demand";
        environment["_HANDLER"] = options.Handler ?? Path.GetFileNameWithoutExtension(application);
        environment["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + options.FunctionName;
        // Each execution environment (each start) writes to its own log stream, as in Lambda.
        environment["AWS_LAMBDA_LOG_STREAM_NAME"] =
            $"{DateTime.UtcNow.ToString("yyyy/MM/dd", CultureInfo.InvariantCulture)}/[$LATEST]{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}";
        // A handler names code in the task root, where Lambda also starts the runtime (/var/task): the working directory.
        var workingDirectory = Path.GetFullPath(options.WorkingDirectory ?? System.Environment.CurrentDirectory);
        environment["LAMBDA_TASK_ROOT"] = options.Handler is null ? FindTaskRoot(application, workingDirectory) : workingDirectory;
        foreach (var (name, value) in options.Environment)
        {
            if (value is null)
            {
                environment.Remove(name);
            }
            else
            {
                environment[name] = value;
            }
        }
    }

    // The app's folder (/var/task in Lambda); a program found on the PATH has none, so the working directory stands in.
    private static string FindTaskRoot(string application, string workingDirectory) =>
        application.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal) || application.Contains('.', StringComparison.Ordinal)
            ? Path.GetDirectoryName(Path.GetFullPath(application, workingDirectory)) ?? workingDirectory
            : workingDirectory;

    // The app itself: the first .dll argument of "dotnet App.dll", otherwise the program.
    private static string FindApplicationPath(FunctionProcessOptions options)
    {
        var program = Path.GetFileNameWithoutExtension(options.FileName);
        if (string.Equals(program, "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            var assembly = options.Arguments.FirstOrDefault(argument => argument.EndsWith(".dll", StringComparison.OrdinalIgnoreCase));
            if (assembly is not null)
            {
                return assembly;
            }
        }

        return options.FileName;
    }
}
