namespace LambdaStreamingHosting.Tool.Tests;

public sealed class CommandLineTests
{
    [Fact]
    public void A_command_after_the_separator_is_kept_verbatim_with_the_defaults()
    {
        var settings = CommandLine.Parse(["run", "--", "dotnet", "bin/App.dll", "--urls", "--", "x"])!;

        Assert.Equal(["dotnet", "bin/App.dll", "--urls", "--", "x"], settings.Command);
        Assert.Null(settings.ProjectPath);
        Assert.Equal(5050, settings.Port);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.Timeout);
        Assert.False(settings.Freeze);
        Assert.False(settings.Buffered);
        Assert.Empty(settings.Environment);
        Assert.Null(settings.ArtifactsPath);
        Assert.Null(settings.Handler);
        Assert.True(settings.Timeline);
    }

    [Fact]
    public void Every_option_is_read_in_both_spellings()
    {
        var settings = CommandLine.Parse(
            ["run", "--project", "examples/StreamingApi", "-c", "Debug", "--artifacts-path", "/tmp/out", "--port=0", "--api-port", "9001", "--freeze", "--timeout", "2m", "--buffered", "-e", "A=1", "--env=B=x=y", "--handler", "src/index.handler", "--no-timeline"])!;

        Assert.Equal("examples/StreamingApi", settings.ProjectPath);
        Assert.Equal("Debug", settings.Configuration);
        Assert.Equal("/tmp/out", settings.ArtifactsPath);
        Assert.Equal(0, settings.Port);
        Assert.Equal(9001, settings.ApiPort);
        Assert.True(settings.Freeze);
        Assert.Equal(TimeSpan.FromMinutes(2), settings.Timeout);
        Assert.True(settings.Buffered);
        Assert.Equal("1", settings.Environment["A"]);
        Assert.Equal("x=y", settings.Environment["B"]);
        Assert.Equal("src/index.handler", settings.Handler);
        Assert.False(settings.Timeline);
        Assert.Empty(settings.Command);
    }

    [Fact]
    public void Snap_start_runs_the_app_as_SnapStart_and_freezes_it()
    {
        var settings = CommandLine.Parse(["run", "--snap-start", "--", "dotnet", "App.dll"])!;

        Assert.True(settings.SnapStart);
        Assert.True(settings.Freeze); // the snapshot is a freeze
        Assert.False(CommandLine.Parse(["run", "--", "dotnet", "App.dll"])!.SnapStart);
    }

    [Theory]
    [InlineData(new[] { "run", "--", "app" }, 5050, 5051)]
    [InlineData(new[] { "run", "--port", "8080", "--", "app" }, 8080, 8081)]
    [InlineData(new[] { "run", "--port", "0", "--", "app" }, 0, 0)]
    public void The_Lambda_API_port_follows_the_Function_URL_port_unless_given(string[] args, int port, int apiPort)
    {
        var settings = CommandLine.Parse(args)!;

        Assert.Equal(port, settings.Port);
        Assert.Equal(apiPort, settings.ApiPort);
    }

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("500ms", 500)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2m", 120_000)]
    [InlineData("45", 45_000)]
    [InlineData("15m", 900_000)]
    public void Timeouts_take_a_unit_or_default_to_seconds(string text, int milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), CommandLine.ParseTimeout(text));

    [Theory]
    [InlineData("--help")]
    [InlineData("run -h")]
    [InlineData("help")]
    public void Help_is_recognised(string commandLine) => Assert.Null(CommandLine.Parse(commandLine.Split(' ')));

    [Theory]
    [InlineData(new string[] { }, "Missing command")]
    [InlineData(new string[] { "serve" }, "Unknown command 'serve'")]
    [InlineData(new string[] { "run" }, "Nothing to run")]
    [InlineData(new string[] { "run", "dotnet", "App.dll" }, "Unexpected argument 'dotnet': put the app's command after '--'")]
    [InlineData(new string[] { "run", "--prot", "80", "--", "app" }, "Unknown option '--prot'")]
    [InlineData(new string[] { "run", "--project", "a", "--", "app" }, "not both")]
    [InlineData(new string[] { "run", "--port" }, "Option '--port' needs a value")]
    [InlineData(new string[] { "run", "--port", "70000", "--", "app" }, "Invalid --port '70000'")]
    [InlineData(new string[] { "run", "--port", "-1", "--", "app" }, "Invalid --port '-1'")]
    [InlineData(new string[] { "run", "--api-port", "x", "--", "app" }, "Invalid --api-port 'x'")]
    [InlineData(new string[] { "run", "--timeout", "soon", "--", "app" }, "Invalid --timeout 'soon'")]
    [InlineData(new string[] { "run", "--timeout", "16m", "--", "app" }, "up to 15 minutes")]
    [InlineData(new string[] { "run", "--timeout", "0s", "--", "app" }, "Invalid --timeout '0s'")]
    [InlineData(new string[] { "run", "--freeze=yes", "--", "app" }, "Option '--freeze' takes no value")]
    [InlineData(new string[] { "run", "--no-timeline=1", "--", "app" }, "Option '--no-timeline' takes no value")]
    [InlineData(new string[] { "run", "-e", "NOVALUE", "--", "app" }, "Invalid --env 'NOVALUE': use NAME=VALUE")]
    [InlineData(new string[] { "run", "-c", "", "--project", "a" }, "needs a name")]
    [InlineData(new string[] { "run", "--handler", "index handler", "--", "node" }, "Invalid --handler 'index handler': a Lambda handler has 1 to 128 characters and no white space")]
    [InlineData(new string[] { "run", "--handler=", "--", "node" }, "Invalid --handler ''")]
    [InlineData(new string[] { "run", "--handler" }, "Option '--handler' needs a value")]
    [InlineData(new string[] { "run", "--artifacts-path", "out", "--", "app" }, "apply to --project only")]
    public void Mistakes_are_explained(string[] args, string message)
    {
        var exception = Assert.Throws<CommandLineException>(() => CommandLine.Parse(args));

        Assert.Contains(message, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_usage_error_prints_the_reason_to_standard_error_and_exits_with_2()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = await RunCommand.MainAsync(["run", "--port", "x", "--", "app"], output, error);

        Assert.Equal(2, exitCode);
        Assert.Contains("lambda-streaming: Invalid --port 'x'", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("lambda-streaming --help", error.ToString(), StringComparison.Ordinal);
        Assert.Empty(output.ToString());
    }

    [Fact]
    public async Task Help_prints_the_usage_and_exits_with_0()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = await RunCommand.MainAsync(["--help"], output, error);

        Assert.Equal(0, exitCode);
        Assert.Contains("lambda-streaming run [options] --project <path>", output.ToString(), StringComparison.Ordinal);
        Assert.Empty(error.ToString());
    }

    [Fact]
    public async Task A_missing_project_fails_with_1_and_says_so()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = await RunCommand.MainAsync(["run", "--project", "/nonexistent/App"], output, error);

        Assert.Equal(1, exitCode);
        Assert.Contains("--project '/nonexistent/App' does not exist", error.ToString(), StringComparison.Ordinal);
    }
}
