using System.Diagnostics;

namespace LambdaStreamingHosting.EndToEnd;

/// <summary>
/// Cold start under the emulator in streaming mode: a request waits at the Function URL, then the function process is
/// spawned. Measured from the spawn to the function's first <c>/next</c> (init done) and to the client's first
/// response byte (the status line and headers, sent when the prelude arrives).
/// </summary>
internal static class ColdStart
{
    public static async Task<(Samples Init, Samples FirstByte)> MeasureAsync(ExampleBuild build, HttpClient client, int runs)
    {
        var init = new Samples("ms");
        var firstByte = new Samples("ms");
        for (var run = 0; run < runs + 1; run++)
        {
            var (function, emulator) = await EmulatedApp.CreateAsync(build.FunctionOptions(), LambdaInvokeMode.ResponseStream);
            await using (function)
            await using (emulator)
            {
                var response = client.GetAsync(emulator.FunctionUrl, HttpCompletionOption.ResponseHeadersRead);
                var spawned = Stopwatch.GetTimestamp();
                function.Start(emulator.RuntimeApiEndpoint);
                var initialized = StampAsync(function.WaitUntilInitializedAsync(TimeSpan.FromSeconds(60)));
                using var answer = await response.WaitAsync(TimeSpan.FromSeconds(60));
                var received = Stopwatch.GetTimestamp();
                var initDone = await initialized;
                if (!answer.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"{build.Label} cold start: GET / answered {(int)answer.StatusCode}.");
                }

                await answer.Content.ReadAsByteArrayAsync();
                if (run > 0)
                {
                    // Run 0 only warms the disk cache and the harness itself.
                    init.Add(Milliseconds(spawned, initDone));
                    firstByte.Add(Milliseconds(spawned, received));
                }
            }
        }

        return (init, firstByte);
    }

    private static async Task<long> StampAsync(Task task)
    {
        await task;
        return Stopwatch.GetTimestamp();
    }

    private static double Milliseconds(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;
}
