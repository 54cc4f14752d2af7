using System.Globalization;
using System.Net;
using System.Text;
using LambdaStreamingHosting.Testing;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// The request limits as a client meets them: a real <see cref="HttpClient"/> calls the emulator's Function URL, whose
/// front door turns the request into an event, and the app's server refuses what is over its limits.
/// </summary>
/// <remarks>
/// The emulator's front door is a Kestrel with Kestrel's default limits: a request over those never becomes an event
/// (<see cref="The_front_door_applies_Kestrels_limits_itself"/>), as a real front end has limits of its own. So the
/// app runs here with lowered limits, far under the door's, and the function's limit is the one hit. The door also
/// adds headers (<c>X-Forwarded-For</c>, <c>-Proto</c>, <c>-Port</c>, <c>X-Amzn-Trace-Id</c>), which count as they
/// would for Kestrel behind a proxy: each test first asks the app what a bare request measures, then sends the request
/// that brings it exactly to the limit (the app confirms the measure) and the one that goes one past.
/// </remarks>
public sealed class RequestLimitsEndToEndTests : IAsyncLifetime
{
    private const int MaxHeaderCount = 20;
    private const int MaxHeadersTotal = 2048;
    private const int MaxLine = 512;
    private int _appRuns;
    private LambdaEmulator? _emulator;
    private WebApplication? _app;
    private HttpClient? _client;

    public static TheoryData<LambdaInvokeMode> Modes => [LambdaInvokeMode.ResponseStream, LambdaInvokeMode.Buffered];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync().WaitAsync(TestApp.Timeout);
            await _app.DisposeAsync();
        }

        if (_emulator is not null)
        {
            await _emulator.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Header_lines_at_MaxRequestHeaderCount_reach_the_app_one_more_is_431(LambdaInvokeMode mode)
    {
        await StartAsync(mode);
        var bare = await MeasureAsync([]);
        var toLimit = Enumerable.Range(1, MaxHeaderCount - bare.Lines).Select(i => ($"X-H{i}", "v")).ToArray();

        var atLimit = await MeasureAsync(toLimit);
        Assert.Equal(MaxHeaderCount, atLimit.Lines);

        await AssertRefusedAsync([.. toLimit, ("X-One-More", "v")], HttpStatusCode.RequestHeaderFieldsTooLarge);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Headers_totalling_MaxRequestHeadersTotalSize_reach_the_app_one_byte_more_is_431(LambdaInvokeMode mode)
    {
        await StartAsync(mode);

        // The Cookie header becomes the event's `cookies` and is rebuilt as one line, the same bytes.
        (string, string) cookie = ("Cookie", "a=1; b=2");
        var bare = await MeasureAsync([cookie]);
        var filler = new string('f', MaxHeadersTotal - bare.Bytes - RequestLimitCase.LineBytes("X-Filler", ""));

        var atLimit = await MeasureAsync([cookie, ("X-Filler", filler)]);
        Assert.Equal(MaxHeadersTotal, atLimit.Bytes);
        Assert.Equal("a=1; b=2", atLimit.Cookie);

        await AssertRefusedAsync([cookie, ("X-Filler", filler + "f")], HttpStatusCode.RequestHeaderFieldsTooLarge);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task A_request_line_of_MaxRequestLineSize_reaches_the_app_one_byte_more_is_414(LambdaInvokeMode mode)
    {
        await StartAsync(mode);
        var path = "/" + new string('p', MaxLine - RequestLimitCase.LineOverhead - 1);

        var atLimit = await MeasureAsync([], path);
        Assert.Equal(MaxLine, atLimit.Line);

        await AssertRefusedAsync([], HttpStatusCode.RequestUriTooLong, path + "p");
    }

    [Fact]
    public async Task The_front_door_applies_Kestrels_limits_itself()
    {
        await StartAsync(LambdaInvokeMode.ResponseStream);
        var port = _emulator!.FunctionUrl.Port;
        (string, string) host = ("Host", $"127.0.0.1:{port}");

        // Kestrel's defaults at the door: these never become events, whatever the function's limits.
        var tooMany = await RawHttp.SendAsync(port, RawHttp.Request("GET", "/", [host, .. Enumerable.Range(1, 100).Select(i => ($"X-H{i}", "v"))]));
        var nul = await RawHttp.SendAsync(port, RawHttp.Request("GET", "/", [host, ("X-Value", "a\0b")]));
        var longLine = await RawHttp.SendAsync(port, RawHttp.Request("GET", "/" + new string('p', 8192), [host]));

        Assert.Equal((431, 400, 414), (tooMany.Status, nul.Status, longLine.Status));
        Assert.Empty(_emulator.Invocations);
        Assert.Equal(0, Volatile.Read(ref _appRuns));
    }

    /// <summary>The emulator in <paramref name="mode"/>, and the app behind it with the lowered limits.</summary>
    private async Task StartAsync(LambdaInvokeMode mode)
    {
        _emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions { InvokeMode = mode }).WaitAsync(TestApp.Timeout);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddLambdaStreaming(options =>
        {
            options.InvokeMode = mode;
            options.Limits.MaxRequestHeaderCount = MaxHeaderCount;
            options.Limits.MaxRequestHeadersTotalSize = MaxHeadersTotal;
            options.Limits.MaxRequestLineSize = MaxLine;
        });
        builder.Services.AddLambdaServer(_emulator.RuntimeApiEndpoint);
        _app = builder.Build();

        // Reports the request as Kestrel would measure it: header lines, their bytes, and the request line's bytes.
        _app.Run(context =>
        {
            Interlocked.Increment(ref _appRuns);
            var request = context.Request;
            var lines = request.Headers.Sum(h => h.Value.Count);
            var bytes = request.Headers.Sum(h => h.Value.Sum(v => RequestLimitCase.LineBytes(h.Key, v!)));
            var target = context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget;
            var line = request.Method.Length + Encoding.UTF8.GetByteCount(target) + 12; // two spaces, HTTP/1.1, CRLF
            return context.Response.WriteAsync(FormattableString.Invariant($"{lines} {bytes} {line} {request.Headers.Cookie}"));
        });
        await _app.StartAsync().WaitAsync(TestApp.Timeout);
        _client = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = _emulator.FunctionUrl, Timeout = TestApp.Timeout };
    }

    private sealed record Measure(int Lines, int Bytes, int Line, string Cookie);

    private async Task<Measure> MeasureAsync((string Name, string Value)[] headers, string path = "/")
    {
        using var response = await SendAsync(headers, path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        var parts = text.Split(' ', 4);
        return new(int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture), parts[3]);
    }

    private async Task AssertRefusedAsync((string Name, string Value)[] headers, HttpStatusCode status, string path = "/")
    {
        var runs = Volatile.Read(ref _appRuns);
        var invocations = _emulator!.Invocations.Count;

        using var response = await SendAsync(headers, path);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        Assert.Equal(runs, Volatile.Read(ref _appRuns));
        var record = (await _emulator.WaitForInvocationsAsync(invocations + 1))[invocations];
        Assert.Equal((int)status, record.StatusCode);
        Assert.Null(record.ErrorType);
    }

    private Task<HttpResponseMessage> SendAsync((string Name, string Value)[] headers, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);

        // A fixed trace id, so the door adds no header of varying length.
        request.Headers.TryAddWithoutValidation("X-Amzn-Trace-Id", "Root=1-00000000-000000000000000000000000");
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return _client!.SendAsync(request).WaitAsync(TestApp.Timeout);
    }
}
