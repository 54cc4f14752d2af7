namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>A fresh clone, as far as a build can tell: the repository's files in a new folder, committed as one commit.</summary>
internal static class RepositoryCopy
{
    private static readonly TimeSpan GitTimeout = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Copies what a clone of the repository holds (tracked files, plus new files that are not ignored, so the working
    /// tree is tested as it is) into <paramref name="destination"/> and commits them there; returns the commit id.
    /// The copy has no remote.
    /// </summary>
    public static async Task<string> CreateAsync(string destination)
    {
        var files = (await GitAsync(RepositoryPaths.Root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")).Output;
        foreach (var file in files.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var source = Path.Combine(RepositoryPaths.Root, file.TrimEnd('\r', '\n'));
            if (!File.Exists(source))
            {
                continue; // deleted in the working tree, not yet in the index
            }

            var target = Path.Combine(destination, file.TrimEnd('\r', '\n'));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target); // keeps the file mode (deploy.sh stays executable)
        }

        await GitAsync(destination, "init", "-q");
        await GitAsync(destination, "add", "-A");
        await GitAsync(destination, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", "copy of the working tree");
        return (await GitAsync(destination, "rev-parse", "HEAD")).Output.Trim();
    }

    private static async Task<DotNetCli.Result> GitAsync(string directory, params string[] arguments) =>
        (await DotNetCli.RunProgramAsync("git", arguments, directory, GitTimeout)).EnsureSuccess($"git {string.Join(' ', arguments)}");
}
