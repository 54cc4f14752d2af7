using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// One whole small request through the same minimal-API app: on Kestrel (the baseline: a raw client sends the request
/// the Function URL event describes), and under the Lambda server in streaming and buffered mode (a raw Runtime API on
/// loopback hands out the real Function URL event, reads the answer and replies 202). The measured operation covers the
/// invocation from the event to the function's next <c>/next</c>. Allocations count every thread, so the difference to
/// Kestrel is the adapter's own cost per invocation. Target: under 1 KB more than Kestrel.
/// </summary>
public class InvocationBenchmarks
{
    internal const string Greeting = "Hello, World!";
    internal static readonly byte[] Accepted = Encoding.ASCII.GetBytes("HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}");
    private WebApplication _app = null!;
    private Socket? _runtimeApi;
    private RawHttpConnection _connection = null!;
    private byte[] _request = null!;
    private string? _firstAnswer;

    /// <summary>Which server runs the app.</summary>
    [Params("Kestrel", "Lambda streaming", "Lambda buffered")]
    public string Server { get; set; } = "Kestrel";

    /// <summary>
    /// OpenTelemetry in the app: <c>off</c>; <c>tracing</c> (every request's span recorded and handed to an exporter
    /// that drops it; under Lambda with <c>AddLambdaStreamingInstrumentation</c>, so with the FaaS attributes and the
    /// flush before each <c>/next</c>); <c>tracing+metrics</c> (the adapter's meter collected too, and flushed as well).
    /// </summary>
    [Params("off", "tracing", "tracing+metrics")]
    public string Telemetry { get; set; } = "off";

    [GlobalSetup]
    public async Task SetupAsync()
    {
        if (Server == "Kestrel")
        {
            _app = await StartAppAsync(builder =>
            {
                builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
                DroppingTelemetry.Add(builder.Services, Telemetry, lambda: false);
            });
            var address = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
            _connection = await RawHttpConnection.ConnectAsync(new IPEndPoint(IPAddress.Loopback, new Uri(address).Port));
            _request = KestrelRequest();
        }
        else
        {
            _runtimeApi = new Socket(SocketType.Stream, ProtocolType.Tcp);
            _runtimeApi.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _runtimeApi.Listen(1);
            var endpoint = $"127.0.0.1:{((IPEndPoint)_runtimeApi.LocalEndPoint!).Port}";
            var mode = Server == "Lambda buffered" ? LambdaInvokeMode.Buffered : LambdaInvokeMode.ResponseStream;
            _app = await StartAppAsync(builder =>
            {
                builder.Services.AddLambdaStreaming(o => o.InvokeMode = mode);
                builder.Services.AddLambdaServer(endpoint);
                DroppingTelemetry.Add(builder.Services, Telemetry, lambda: true);
            });
            _connection = new RawHttpConnection(await _runtimeApi.AcceptAsync());
            await _connection.ReceiveMessageAsync(); // the first GET /next
            _request = NextReply();
        }

        await Invoke();
        if (_firstAnswer?.Contains(Greeting, StringComparison.Ordinal) != true)
        {
            throw new InvalidOperationException($"The {Server} invocation did not answer with the greeting:\n{_firstAnswer}");
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _connection.Dispose();
        _runtimeApi?.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _app.DisposeAsync();
    }

    [Benchmark(Description = "Small GET, whole request")]
    public ValueTask Invoke() => Server == "Kestrel" ? KestrelRequestAsync() : LambdaInvocationAsync();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask KestrelRequestAsync()
    {
        await _connection.SendAsync(_request);
        await _connection.ReceiveMessageAsync();
        _firstAnswer ??= _connection.LastMessageText();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask LambdaInvocationAsync()
    {
        await _connection.SendAsync(_request);      // the /next reply: the event
        await _connection.ReceiveMessageAsync();    // POST /response (streamed or buffered)
        _firstAnswer ??= _connection.LastMessageText();
        await _connection.SendAsync(Accepted);
        await _connection.ReceiveMessageAsync();    // the next GET /next
    }

    internal static async Task<WebApplication> StartAppAsync(Action<WebApplicationBuilder> configure, Action<WebApplication>? map = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        configure(builder);
        var app = builder.Build();
        if (map is null)
        {
            app.MapGet("/my/path", () => Greeting);
        }
        else
        {
            map(app);
        }

        await app.StartAsync();
        return app;
    }

    /// <summary>The <c>/next</c> reply carrying the Function URL event.</summary>
    internal static byte[] NextReply()
    {
        var deadline = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var head = "HTTP/1.1 200 OK\r\n" +
            "Content-Type: application/json\r\n" +
            "Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n" +
            $"Lambda-Runtime-Deadline-Ms: {deadline}\r\n" +
            "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:benchmark\r\n" +
            "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n" +
            $"Content-Length: {SampleEvents.FunctionUrl.Length}\r\n\r\n";
        return [.. Encoding.ASCII.GetBytes(head), .. SampleEvents.FunctionUrl];
    }

    /// <summary>The HTTP request the Function URL event describes, as a client would send it to Kestrel.</summary>
    private static byte[] KestrelRequest() => Encoding.ASCII.GetBytes(
        "GET /my/path?parameter1=value1&parameter1=value2&parameter2=value HTTP/1.1\r\n" +
        "Host: id.lambda-url.eu-west-2.on.aws\r\n" +
        "x-amzn-tls-cipher-suite: ECDHE-RSA-AES128-GCM-SHA256\r\n" +
        "x-amzn-tls-version: TLSv1.2\r\n" +
        "x-amzn-trace-id: Root=1-5eb33c07-de25b420912dee103a5db434\r\n" +
        "cookie: test=hi\r\n" +
        "x-forwarded-proto: https\r\n" +
        "x-forwarded-port: 443\r\n" +
        "x-forwarded-for: 65.78.31.245\r\n" +
        "accept: */*\r\n" +
        "user-agent: curl/7.68.0\r\n\r\n");
}
