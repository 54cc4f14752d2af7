using System.Diagnostics.Tracing;
using System.Globalization;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// Where the bytes of a small invocation go: runs <see cref="InvocationBenchmarks"/> for each server many times and
/// groups the runtime's allocation samples (one per ~100 KB allocated, attributed to the object that crossed the
/// threshold, so proportional to bytes) by type. Run with <c>--allocations</c>.
/// </summary>
internal static class AllocationProfile
{
    private const int Warmup = 2_000;
    private const int Invocations = 20_000;
    private const int TopTypes = 25;

    public static async Task RunAsync()
    {
        foreach (var server in new[] { "Kestrel", "Lambda streaming", "Lambda buffered" })
        {
            var benchmark = new InvocationBenchmarks { Server = server };
            await ProfileAsync(server, benchmark.SetupAsync, benchmark.Invoke, benchmark.CleanupAsync);
        }

        // The same invocation with OpenTelemetry tracing on (every span recorded and handed to a dropping exporter).
        foreach (var server in new[] { "Kestrel", "Lambda streaming" })
        {
            var benchmark = new InvocationBenchmarks { Server = server, Telemetry = "tracing" };
            await ProfileAsync($"{server}, OpenTelemetry tracing", benchmark.SetupAsync, benchmark.Invoke, benchmark.CleanupAsync);
        }

        // The same streaming invocation logging one entry (LambdaLoggerBenchmarks), without and with the Lambda logger.
        foreach (var logger in new[] { "Off", "Enabled, discarded", "Console", "Text", "JSON" })
        {
            var benchmark = new LambdaLoggerBenchmarks { Logger = logger };
            await ProfileAsync($"Lambda streaming, one log entry, logger {logger}", benchmark.SetupAsync, benchmark.Invoke, benchmark.CleanupAsync);
        }
    }

    private static async Task ProfileAsync(string name, Func<Task> setup, Func<ValueTask> invoke, Func<Task> cleanup)
    {
        await setup();
        try
        {
            for (var i = 0; i < Warmup; i++)
            {
                await invoke();
            }

            using var listener = new AllocationListener();
            var before = GC.GetTotalAllocatedBytes(precise: true);
            for (var i = 0; i < Invocations; i++)
            {
                await invoke();
            }

            var total = GC.GetTotalAllocatedBytes(precise: true) - before;
            Print(name, total, listener.Snapshot());
        }
        finally
        {
            await cleanup();
        }
    }

    private static void Print(string server, long total, Dictionary<string, long> samples)
    {
        var perInvocation = (double)total / Invocations;
        var sampled = Math.Max(1, samples.Values.Sum());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{server}: {perInvocation:F0} bytes per invocation ({Invocations:N0} invocations, {samples.Values.Count(_ => true)} types sampled)"));
        foreach (var (type, bytes) in samples.OrderByDescending(p => p.Value).Take(TopTypes))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {perInvocation * bytes / sampled,8:F0} B  {type}"));
        }

        Console.WriteLine();
    }

    /// <summary>Collects the runtime's <c>GCAllocationTick</c> events: sampled bytes per type name.</summary>
    private sealed class AllocationListener : EventListener
    {
        private const EventKeywords GcKeyword = (EventKeywords)0x1;
        private readonly Dictionary<string, long> _bytesByType = [];

        public Dictionary<string, long> Snapshot()
        {
            lock (_bytesByType)
            {
                return new Dictionary<string, long>(_bytesByType);
            }
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || eventData.Payload is null)
            {
                return;
            }

            var type = eventData.PayloadNames!.IndexOf("TypeName") is var t and >= 0 ? eventData.Payload[t] as string ?? "?" : "?";
            var amount = eventData.PayloadNames.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(eventData.Payload[a], CultureInfo.InvariantCulture) : 0;
            lock (_bytesByType)
            {
                _bytesByType[type] = _bytesByType.GetValueOrDefault(type) + amount;
            }
        }
    }
}
