using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using LambdaStreamingHosting.Logging;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// What the Lambda logger adds to a whole small streaming invocation (the setup of <see cref="InvocationBenchmarks"/>):
/// the endpoint logs one Information entry with one template property, as an app does, through a source-generated
/// <c>LoggerMessage</c> method. <c>Off</c>: no logging provider at all (the entry costs nothing). <c>Enabled, discarded</c>:
/// a provider whose loggers are enabled and drop every entry: what ASP.NET Core itself does per request once any
/// logger is enabled (an <c>Activity</c> and a log scope per request). <c>Console</c>: ASP.NET Core's console logger
/// (what apps log to by default, an entry over two lines), its output swallowed. <c>Text</c> and
/// <c>JSON</c>: the Lambda logger as inside Lambda, writing to a stream that drops the bytes instead of standard output;
/// each invocation also pays the flush before its <c>/next</c> (waiting for the writer thread to write the line).
/// ASP.NET Core's categories stay at Warning, as in the template's appsettings.json.
/// </summary>
public partial class LambdaLoggerBenchmarks
{
    private WebApplication _app = null!;
    private Socket _runtimeApi = null!;
    private RawHttpConnection _connection = null!;
    private byte[] _request = null!;
    private readonly DiscardingOutput _output = new();

    /// <summary>Which logging the app runs with.</summary>
    [Params("Off", "Enabled, discarded", "Console", "Text", "JSON")]
    public string Logger { get; set; } = "Off";

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _runtimeApi = new Socket(SocketType.Stream, ProtocolType.Tcp);
        _runtimeApi.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _runtimeApi.Listen(1);
        var endpoint = $"127.0.0.1:{((IPEndPoint)_runtimeApi.LocalEndPoint!).Port}";

        // The console logger takes Console.Out when it is made: it keeps writing to nowhere once Console.Out is back.
        var console = Console.Out;
        if (Logger == "Console")
        {
            Console.SetOut(TextWriter.Null);
        }

        _app = await InvocationBenchmarks.StartAppAsync(
            builder =>
            {
                builder.Services.AddLambdaStreaming();
                builder.Services.AddLambdaServer(endpoint);
                if (Logger == "Console")
                {
                    builder.Logging.AddConsole();
                    builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
                }
                else if (Logger == "Enabled, discarded")
                {
                    builder.Logging.AddProvider(new DiscardingLoggerProvider());
                    builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
                }
                else if (Logger != "Off")
                {
                    var settings = new LambdaLoggingSettings { Format = Logger == "JSON" ? LambdaLogFormat.Json : LambdaLogFormat.Text };
                    builder.Services.AddSingleton(settings);
                    builder.Services.AddSingleton(new LambdaLoggerProvider(settings, _output, TimeProvider.System));
                    builder.Services.AddLambdaLogging(_ => null);
                    builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
                }
            },
            app =>
            {
                var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Benchmark");
                app.MapGet("/my/path", () =>
                {
                    Greeted(logger, "World");
                    return InvocationBenchmarks.Greeting;
                });
            });
        Console.SetOut(console);
        _connection = new RawHttpConnection(await _runtimeApi.AcceptAsync());
        await _connection.ReceiveMessageAsync(); // the first GET /next
        _request = InvocationBenchmarks.NextReply();
        await Invoke();
        if ((Logger is "Text" or "JSON") != (_output.Bytes > 0))
        {
            throw new InvalidOperationException($"With logging {Logger} the invocation wrote {_output.Bytes} bytes of log lines.");
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _connection.Dispose();
        _runtimeApi.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _app.DisposeAsync();
    }

    [Benchmark(Description = "Small GET logging one entry, whole request")]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask Invoke()
    {
        await _connection.SendAsync(_request);      // the /next reply: the event
        await _connection.ReceiveMessageAsync();    // POST /response
        await _connection.SendAsync(InvocationBenchmarks.Accepted);
        await _connection.ReceiveMessageAsync();    // the next GET /next, after the flush
    }

    [LoggerMessage(1, LogLevel.Information, "Greeted {Name}")]
    private static partial void Greeted(ILogger logger, string name);

    /// <summary>Loggers that are enabled and drop every entry.</summary>
    private sealed class DiscardingLoggerProvider : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }

        public void Dispose()
        {
        }
    }

    /// <summary>Standard output's stand-in: counts the bytes and drops them.</summary>
    private sealed class DiscardingOutput : Stream
    {
        private long _bytes;

        public long Bytes => Interlocked.Read(ref _bytes);

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Interlocked.Add(ref _bytes, count);

        public override void Write(ReadOnlySpan<byte> buffer) => Interlocked.Add(ref _bytes, buffer.Length);

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
