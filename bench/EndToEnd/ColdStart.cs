using System.Diagnostics;

namespace LambdaStreamingHosting.EndToEnd;

/// <summary>
/// Cold start under the emulator in streaming mode: a request waits at the Function URL, then the function process is
/// spawned. Measured from the spawn to the client's first response byte (the status line and headers, sent when the
/// prelude arrives).
/// </summary>
internal static class ColdStart
{
    public static async Task<Samples> MeasureAsync(ExampleBuild build, HttpClient client, int runs)
    {
        var firstByte = new Samples("ms");
        for (var run = 0; run < runs + 1; run++)
        {
            var (function, emulator) = await EmulatedApp.CreateAsync(build.FunctionOptions(), LambdaInvokeMode.ResponseStream);
            await using (function)
            await using (emulator)
            {
                var uri = new Uri(emulator.FunctionUrl, build.App.ColdStartPath);
                var response = client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead);
                var spawned = Stopwatch.GetTimestamp();
                function.Start(emulator.RuntimeApiEndpoint);
                using var answer = await response.WaitAsync(TimeSpan.FromSeconds(60));
                var received = Stopwatch.GetTimestamp();
                if (!answer.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"{build.Label} cold start: GET {uri.PathAndQuery} answered {(int)answer.StatusCode}. {function.RecentOutput}");
                }

                await answer.Content.ReadAsByteArrayAsync();
                if (run > 0)
                {
                    // Run 0 only warms the disk cache and the harness itself.
                    firstByte.Add(Milliseconds(spawned, received));
                }
            }
        }

        return firstByte;
    }

    /// <summary>The same build on Kestrel directly: process spawn to the first successful answer (polled).</summary>
    public static async Task<Samples> MeasureKestrelAsync(ExampleBuild build, HttpClient client, int runs)
    {
        var samples = new Samples("ms");
        for (var run = 0; run < runs + 1; run++)
        {
            await using var app = await KestrelApp.StartAsync(build, client);
            if (run > 0)
            {
                samples.Add(app.SpawnToFirstResponse.TotalMilliseconds);
            }
        }

        return samples;
    }

    private static double Milliseconds(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;
}
