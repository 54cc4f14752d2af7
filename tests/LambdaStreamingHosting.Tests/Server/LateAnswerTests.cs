using System.Diagnostics.Metrics;
using System.Net;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Testing;
using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// What <c>Lambda-Runtime-Invocation-Id</c> exists for, end to end through the emulator: an invocation runs past its
/// timeout while a retry reuses its request id. Its late answer is refused (a warning and a count, and the loop goes
/// on), and the retry's caller gets the retry's answer, on one loop and with two (Lambda Managed Instances), where the
/// retry is delivered to the other loop before the late answer comes.
/// </summary>
public sealed class LateAnswerTests : IAsyncLifetime
{
    private const string RequestId = "order-7";
    private readonly FakeTimeProvider _clock = new();
    private readonly TestLogs _logs = new();
    private readonly TaskCompletionSource _firstStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _releaseFirst = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _retryStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _releaseRetry = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _refused = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly MeterListener _meter = new();
    private LambdaEmulator? _emulator;
    private WebApplication? _app;
    private int _calls;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _releaseFirst.TrySetResult();
        _releaseRetry.TrySetResult();
        _meter.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync().Within();
            await _app.DisposeAsync();
        }

        if (_emulator is not null)
        {
            await _emulator.DisposeAsync(); // strict: throws if the server broke the protocol
        }
    }

    [Theory]
    [InlineData(1, LambdaInvokeMode.ResponseStream)]
    [InlineData(1, LambdaInvokeMode.Buffered)]
    [InlineData(2, LambdaInvokeMode.ResponseStream)]
    [InlineData(2, LambdaInvokeMode.Buffered)]
    public async Task The_late_answer_of_a_timed_out_invocation_never_reaches_the_retry_that_reuses_its_request_id(int loops, LambdaInvokeMode mode)
    {
        await StartAsync(loops, mode);
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = _emulator!.FunctionUrl, Timeout = TestApp.Timeout };

        // The first delivery runs past its timeout: its caller gets the timeout.
        var first = http.SendAsync(Request());
        await _firstStarted.Task.Within();
        _clock.Advance(TimeSpan.FromSeconds(1));
        using (var timedOut = await first.Within())
        {
            Assert.Equal(HttpStatusCode.BadGateway, timedOut.StatusCode);
        }

        // The retry reuses the request id. With two loops the free one takes it while the first still runs; with one it
        // waits in the queue until the loop is done with the first.
        var retry = http.SendAsync(Request());
        if (loops > 1)
        {
            await _retryStarted.Task.Within();
        }
        else
        {
            _releaseRetry.SetResult();
        }

        _releaseFirst.SetResult(); // the first delivery answers now, late
        await _refused.Task.Within();
        _releaseRetry.TrySetResult();

        using var response = await retry.Within();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("answer of call 2", await response.Content.ReadAsStringAsync());

        var records = await _emulator.WaitForInvocationsAsync(2).Within();
        Assert.All(records, r => Assert.Equal(RequestId, r.RequestId));
        Assert.Equal(["Sandbox.Timedout", null], records.Select(r => r.ErrorType));
        Assert.NotEqual(records[0].InvocationId, records[1].InvocationId);
        Assert.All(records, r => Assert.False(r.AnsweredWithoutInvocationId));
        Assert.Empty(_emulator.ProtocolViolations);

        var warning = Assert.Single(_logs.Entries, e => e.Message.Contains("refused a late answer", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(RequestId, warning.Message, StringComparison.Ordinal);
        Assert.Equal(2, Volatile.Read(ref _calls));
    }

    private static HttpRequestMessage Request()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/orders/7");
        request.Headers.Add(LambdaEmulator.RequestIdHeader, RequestId);
        return request;
    }

    private async Task StartAsync(int loops, LambdaInvokeMode mode)
    {
        _emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions
        {
            InvokeMode = mode,
            MaxConcurrency = loops,
            Timeout = TimeSpan.FromSeconds(1),
            TimeProvider = _clock,
        }).Within();

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(_logs);
        builder.Services.AddLambdaStreaming(options => options.InvokeMode = mode);
        builder.Services.AddLambdaServer(new LambdaServerSettings
        {
            RuntimeApiEndpoint = _emulator.RuntimeApiEndpoint,
            EndpointOverridesOptions = true,
            MaxConcurrency = loops,
            Time = _clock,
        });
        _app = builder.Build();
        _app.MapGet("/orders/{id}", async context =>
        {
            // App code that ignores RequestAborted and runs on past its deadline.
            var call = Interlocked.Increment(ref _calls);
            (call == 1 ? _firstStarted : _retryStarted).TrySetResult();
            await (call == 1 ? _releaseFirst : _releaseRetry).Task;
            await context.Response.WriteAsync($"answer of call {call}");
        });

        var factory = _app.Services.GetRequiredService<IMeterFactory>();
        _meter.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Name == "lambda_streaming.late_answers.refused")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meter.SetMeasurementEventCallback<long>((_, _, _, _) => _refused.TrySetResult());
        _meter.Start();
        await _app.StartAsync().Within();
    }
}
