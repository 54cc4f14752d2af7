using System.Net;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using SampleApp;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>Factory behaviours beyond the sample: emulator options per factory, timeouts, buffered mode, disposal.</summary>
public class LambdaApplicationFactoryTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Buffered_emulator_options_switch_the_app_to_buffered_answers()
    {
        await using var factory = new LambdaApplicationFactory<Program>();
        factory.EmulatorOptions.InvokeMode = LambdaInvokeMode.Buffered;
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/cookies");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("two cookies", await response.Content.ReadAsStringAsync());
        Assert.Equal(2, response.Headers.GetValues("Set-Cookie").Count());
        var record = Assert.Single(factory.Emulator.Invocations);
        Assert.False(record.Streamed);
        Assert.Empty(factory.Emulator.ProtocolViolations);
    }

    [Fact]
    public async Task An_app_that_runs_past_the_timeout_gets_502_and_its_late_answer_is_refused()
    {
        var stuck = new StuckTicks();
        var clock = new FakeTimeProvider();
        await using var parent = new LambdaApplicationFactory<Program>();
        var factory = parent.WithWebHostBuilder(web => web.ConfigureTestServices(services => services.AddSingleton<ITicks>(stuck)));
        factory.EmulatorOptions.Timeout = TimeSpan.FromSeconds(1);
        factory.EmulatorOptions.TimeProvider = clock; // the emulator's deadlines, and the server's with them
        Assert.Equal(TimeSpan.FromSeconds(30), parent.EmulatorOptions.Timeout); // the child's options are its own
        using var client = factory.CreateClient();

        var request = client.GetAsync("/ticks?count=1");
        await stuck.Waiting.WaitAsync(Patience);
        clock.Advance(TimeSpan.FromSeconds(1)); // RequestAborted fired (ignored by the stuck app), then the timeout
        using var slow = await request.WaitAsync(Patience);
        Assert.Equal(HttpStatusCode.BadGateway, slow.StatusCode);
        Assert.Equal("Sandbox.Timedout", Assert.Single(factory.Emulator.Invocations).ErrorType);

        stuck.Release(); // the app finally answers; the emulator refuses it (410) and the server goes on
        using var next = await client.GetAsync("/hello").WaitAsync(Patience);
        Assert.Equal("Hello from Lambda", await next.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Services_come_from_the_app_running_in_lambda_mode()
    {
        await using var factory = new LambdaApplicationFactory<Program>();
        var server = factory.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>();
        Assert.Equal("LambdaServer", server.GetType().Name);
        Assert.Equal(factory.Emulator.FunctionUrl, factory.ClientOptions.BaseAddress);
    }

    [Fact]
    public async Task Disposing_the_factory_stops_its_emulator()
    {
        var factory = new LambdaApplicationFactory<Program>();
        using var client = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/hello")).StatusCode);
        var functionUrl = factory.Emulator.FunctionUrl;
        await factory.DisposeAsync();
        using var probe = new HttpClient();
        await Assert.ThrowsAsync<HttpRequestException>(() => probe.GetAsync(new Uri(functionUrl, "/hello")));
    }

    /// <summary>A pace that ignores cancellation and comes only when the test says so.</summary>
    private sealed class StuckTicks : ITicks
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private readonly TaskCompletionSource _waiting = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the app waits for its first tick.</summary>
        public Task Waiting => _waiting.Task;

        public void Release() => _released.TrySetResult();

        public Task NextAsync(CancellationToken cancellationToken)
        {
            _waiting.TrySetResult();
            return _released.Task;
        }
    }
}
