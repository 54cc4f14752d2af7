using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// A local AWS Lambda: the Runtime API a function polls (<see cref="RuntimeApiEndpoint"/>, the value of
/// <c>AWS_LAMBDA_RUNTIME_API</c>) and the HTTP front doors clients call (<see cref="FunctionUrl"/>,
/// <see cref="RestApiUrl"/>, <see cref="HttpApiUrl"/>, <see cref="AlbUrl"/>). A client request becomes an event as the
/// real front end would build it; a streamed answer reaches the client chunk by chunk as the function writes it.
/// Every invocation is logged in <see cref="Invocations"/>. Listens on 127.0.0.1 only.
/// </summary>
/// <remarks>Written from the Lambda wire documentation, sharing no code with the LambdaStreamingHosting server.</remarks>
public sealed class LambdaEmulator : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly RuntimeApiServer _runtimeApi;
    private readonly Dictionary<int, FrontDoor> _doorsByPort = [];
    private readonly InvocationLog _log;
    private TimelinePage? _timeline;
    private int _runtimePort;
    private int _disposed;

    private LambdaEmulator(LambdaEmulatorOptions options, WebApplication app, InvocationLog log, RuntimeApiServer runtimeApi)
    {
        Options = options;
        _app = app;
        _log = log;
        _runtimeApi = runtimeApi;
    }

    /// <summary>
    /// A client request header that gives the invocation this request id instead of a new one, as an upstream retry
    /// reuses its request id: 1 to 100 letters, digits, <c>-</c>, <c>_</c> or <c>.</c> (otherwise the client gets 400).
    /// The header does not reach the event. Each delivery still gets a new <c>Lambda-Runtime-Invocation-Id</c>.
    /// </summary>
    public const string RequestIdHeader = "x-lambda-emulator-request-id";

    /// <summary>The options the emulator runs with (do not change them after start).</summary>
    public LambdaEmulatorOptions Options { get; }

    /// <summary>The Runtime API address as <c>host:port</c>, the value a function needs in <c>AWS_LAMBDA_RUNTIME_API</c>.</summary>
    public string RuntimeApiEndpoint { get; private set; } = "";

    /// <summary>The Function URL, e.g. <c>http://127.0.0.1:5001/</c>.</summary>
    public Uri FunctionUrl { get; private set; } = null!;

    /// <summary>The REST API stage URL, e.g. <c>http://127.0.0.1:5002/test/</c>.</summary>
    public Uri RestApiUrl { get; private set; } = null!;

    /// <summary>The HTTP API URL (with the stage when it is not <c>$default</c>), e.g. <c>http://127.0.0.1:5003/</c>.</summary>
    public Uri HttpApiUrl { get; private set; } = null!;

    /// <summary>The load balancer URL, e.g. <c>http://127.0.0.1:5004/</c>.</summary>
    public Uri AlbUrl { get; private set; } = null!;

    /// <summary>
    /// The endpoint of Lambda's invoke API, e.g. <c>http://127.0.0.1:5005/</c>: point an AWS SDK's Lambda client at it
    /// (any credentials; signatures are not checked) and call <c>Invoke</c> (<c>RequestResponse</c>, <c>Event</c>,
    /// <c>DryRun</c>) or <c>InvokeWithResponseStream</c> with the function's name (<see cref="LambdaEmulatorOptions.FunctionName"/>)
    /// or ARN. The payload is the event, as sent.
    /// </summary>
    public Uri LambdaApiUrl { get; private set; } = null!;

    /// <summary>The invocations finished so far, oldest first (a snapshot).</summary>
    public IReadOnlyList<LambdaInvocationRecord> Invocations => _log.Snapshot();

    /// <summary>Every protocol violation by the function so far, oldest first (a snapshot).</summary>
    public IReadOnlyList<string> ProtocolViolations => _log.Violations();

    /// <summary>
    /// Raised as each invocation ends, with its log entry, after the client's response is complete or cut. Handlers run
    /// on the emulator's request thread: keep them short and never throw.
    /// </summary>
    public event EventHandler<LambdaInvocationRecord>? InvocationCompleted
    {
        add => _log.Completed += value;
        remove => _log.Completed -= value;
    }

    /// <summary>Starts an emulator on loopback ports.</summary>
    /// <param name="options">Settings; <see langword="null"/> for Lambda's defaults.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running emulator; dispose it to stop.</returns>
    /// <exception cref="ArgumentException">An option is invalid (the message says which and why).</exception>
    public static async Task<LambdaEmulator> StartAsync(LambdaEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LambdaEmulatorOptions();
        options.Validate();

        // One Kestrel server, one loopback listener per role; requests are routed by the port they arrived on.
        var listeners = new (LambdaFrontDoor? Door, int Port)[]
        {
            (null, options.RuntimeApiPort),
            (LambdaFrontDoor.FunctionUrl, options.FunctionUrlPort),
            (LambdaFrontDoor.RestApi, options.RestApiPort),
            (LambdaFrontDoor.HttpApi, options.HttpApiPort),
            (LambdaFrontDoor.ApplicationLoadBalancer, options.AlbPort),
            (LambdaFrontDoor.LambdaApi, options.LambdaApiPort),
        };
        var bound = new ListenOptions[listeners.Length];
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;                // limits are the emulator's, with Lambda's replies
            kestrel.Limits.MinRequestBodyDataRate = null;            // a function may stream slowly (server-sent events)
            kestrel.Limits.MinResponseDataRate = null;               // a client may read slowly
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromHours(1); // the runtime's connection idles while it works
            for (var i = 0; i < listeners.Length; i++)
            {
                var index = i;
                kestrel.Listen(IPAddress.Loopback, listeners[i].Port, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1;
                    if (listeners[index].Door is not null)
                    {
                        GracefulCutConnection.Use(listen);
                    }

                    bound[index] = listen;
                });
            }
        });
        if (options.LoggerFactory is { } loggerFactory)
        {
            builder.Services.AddSingleton(loggerFactory);
        }

        var app = builder.Build();
        var log = new InvocationLog(options.TimeProvider, options.LoggerFactory?.CreateLogger("LambdaStreamingHosting.Testing.LambdaEmulator"))
        {
            Feed = options.TimelinePath is null ? null : new InvocationFeed(),
        };
        var runtimeApi = new RuntimeApiServer(options, log);
        var emulator = new LambdaEmulator(options, app, log, runtimeApi);
        log.Owner = emulator;
        if (options.Environment is FunctionProcess process)
        {
            // What the function writes while it runs an invocation is that invocation's log (X-Amz-Log-Type: Tail).
            process.LineWritten += runtimeApi.Delivered.AddFunctionOutput;
        }

        app.Run(emulator.DispatchAsync);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            runtimeApi.Dispose();
            throw;
        }

        // Port 0 means "any free port": the bound ports are known only now.
        emulator._runtimePort = bound[0].IPEndPoint!.Port;
        emulator.RuntimeApiEndpoint = $"127.0.0.1:{emulator._runtimePort}";
        for (var i = 1; i < listeners.Length; i++)
        {
            var port = bound[i].IPEndPoint!.Port;
            var door = FrontDoor.Create(listeners[i].Door!.Value, options, runtimeApi.Queue, log);
            emulator._doorsByPort[port] = door;
            var url = new Uri($"http://127.0.0.1:{port}{door.BasePath}");
            switch (door.Kind)
            {
                case LambdaFrontDoor.FunctionUrl:
                    emulator.FunctionUrl = url;
                    if (log.Feed is { } feed)
                    {
                        emulator._timeline = new TimelinePage(options.TimelinePath!, port, feed, $"{door.Describe()} {url}");
                    }

                    break;
                case LambdaFrontDoor.RestApi: emulator.RestApiUrl = url; break;
                case LambdaFrontDoor.HttpApi: emulator.HttpApiUrl = url; break;
                case LambdaFrontDoor.LambdaApi: emulator.LambdaApiUrl = url; break;
                default: emulator.AlbUrl = url; break;
            }
        }

        return emulator;
    }

    /// <summary>
    /// Waits until <paramref name="count"/> invocations have been logged, then returns the log.
    /// </summary>
    /// <param name="count">How many log entries to wait for.</param>
    /// <param name="timeout">How long to wait; the default is 30 seconds.</param>
    /// <returns>The log, oldest first, with at least <paramref name="count"/> entries.</returns>
    /// <exception cref="TimeoutException">Fewer entries were logged in time.</exception>
    public Task<IReadOnlyList<LambdaInvocationRecord>> WaitForInvocationsAsync(int count, TimeSpan? timeout = null) =>
        _log.WaitForCountAsync(count, timeout ?? TimeSpan.FromSeconds(30));

    /// <summary>Completes when an event waits for the function (test hook: orders a request before <c>/next</c>).</summary>
    internal Task WaitUntilQueuedAsync() => _runtimeApi.Queue.WaitUntilQueuedAsync().WaitAsync(TimeSpan.FromSeconds(30));

    /// <summary>
    /// Stops the emulator: open client requests are cut and the function's pending <c>/next</c> fails. In strict mode,
    /// throws <see cref="LambdaProtocolViolationException"/> afterwards if the function broke the protocol.
    /// </summary>
    /// <exception cref="LambdaProtocolViolationException">Strict mode, and <see cref="ProtocolViolations"/> is not empty.</exception>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (Options.Environment is FunctionProcess process)
        {
            process.LineWritten -= _runtimeApi.Delivered.AddFunctionOutput;
        }

        _runtimeApi.Stop();
        _log.Feed?.Stop(); // the timeline pages' event streams end, so they do not hold the server open
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _app.StopAsync(stop.Token);
        }

        await _app.DisposeAsync();
        _runtimeApi.Dispose();
        var violations = ProtocolViolations;
        if (Options.Strict && violations.Count > 0)
        {
            throw new LambdaProtocolViolationException(violations);
        }
    }

    private Task DispatchAsync(HttpContext context)
    {
        var port = context.Connection.LocalPort;
        if (port == _runtimePort)
        {
            return _runtimeApi.HandleAsync(context);
        }

        if (_timeline is { } timeline && port == timeline.Port && timeline.Serves(context.Request.Path))
        {
            return timeline.HandleAsync(context);
        }

        return _doorsByPort.TryGetValue(port, out var door) ? door.HandleAsync(context) : Task.CompletedTask;
    }
}
