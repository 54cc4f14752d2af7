using System.Diagnostics;
using static LambdaStreamingHosting.Testing.Tests.TestSupport;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>Lambda's pacing of streamed responses: the first 6 MB at full speed, then 2 MB/s.</summary>
public class BandwidthShapingTests
{
    private const long Mb = 1024 * 1024;

    [Theory]
    [InlineData(0, 6 * Mb, 0, 0)]           // within the uncapped allowance
    [InlineData(6 * Mb, 2 * Mb, 0, 1000)]    // 2 MB past it, just started: one second
    [InlineData(6 * Mb, 2 * Mb, 400, 600)]   // time already passed counts
    [InlineData(7 * Mb, 1 * Mb, 0, 1000)]    // bytes already paced count
    [InlineData(6 * Mb, 2 * Mb, 1500, 0)]    // ahead of the pace: no wait
    public void Delay_follows_the_6_MB_then_2_MB_per_second_rule(long sent, long bytes, int sinceThrottleMs, int expectedMs)
    {
        var delay = BandwidthShaper.DelayBefore(sent, bytes, 6 * Mb, 2 * Mb, TimeSpan.FromMilliseconds(sinceThrottleMs));
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), delay);
    }

    [Fact]
    public void Defaults_are_lambdas_numbers()
    {
        var options = new LambdaEmulatorOptions();
        Assert.False(options.BandwidthShaping);
        Assert.Equal(6 * Mb, options.UncappedResponseBytes);
        Assert.Equal(2 * Mb, options.ThrottledBytesPerSecond);
        Assert.Equal(200 * Mb, options.MaxStreamedResponseBytes);
    }

    [Fact]
    public async Task A_shaped_stream_takes_at_least_the_paced_time()
    {
        // 64 KiB free, then 256 KiB at 256 KiB/s: at least one second, however fast the machine.
        await using var emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions
        {
            BandwidthShaping = true,
            UncappedResponseBytes = 64 * 1024,
            ThrottledBytesPerSecond = 256 * 1024,
        });
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(emulator.FunctionUrl);
        var function = Task.Run(async () =>
        {
            var invocation = await runtime.NextAsync();
            await using var answer = await runtime.BeginStreamAsync(invocation.RequestId);
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude("{}"));
            await answer.WriteChunkAsync(new byte[(64 + 256) * 1024]);
            return await answer.EndAsync();
        });

        var clock = Stopwatch.StartNew();
        using var response = await SendAsync(http, HttpMethod.Get, "/");
        var body = await response.Content.ReadAsByteArrayAsync();
        clock.Stop();
        Assert.Equal((64 + 256) * 1024, body.Length);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.95), $"took {clock.Elapsed}");
        Assert.Equal(202, (await function.WaitAsync(Patience)).Status);
    }
}
