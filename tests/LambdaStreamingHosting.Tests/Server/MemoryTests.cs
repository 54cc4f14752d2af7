using LambdaStreamingHosting.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Tests.Server;

[CollectionDefinition(nameof(MemoryTests), DisableParallelization = true)]
public sealed class MemoryTestsRunAlone;

/// <summary>
/// Leak checks (not timing tests): memory and handles stay flat over many invocations, and a 200 MB body streams
/// through a small, constant amount of memory. They run alone so other tests' allocations do not blur them.
/// </summary>
[Collection(nameof(MemoryTests))]
public sealed class MemoryTests : FakeRuntimeApiTest
{
    [Fact]
    public async Task A_thousand_sequential_invocations_leave_memory_and_handles_flat()
    {
        Api.KeepHistory = false;
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            context.Response.Headers["X-Id"] = context.TraceIdentifier;
            await context.Response.WriteAsync(new string('x', 2000));
        }));

        await RunAsync(100);

        // Two rounds of 1,000: a leak grows the heap or the handles in both, while a one-off (a thread pool thread
        // that joins under load and keeps its share of the shared array pool, a handle another part of the runtime
        // opens) shows in one round only. Either round within the bound passes; both over it is a leak.
        var first = await MeasureGrowthAsync(1000);
        var second = await MeasureGrowthAsync(1000);

        Assert.True(
            Math.Min(first.Heap, second.Heap) < 8 * 1024 * 1024,
            $"the heap grew by {first.Heap:N0} and then by {second.Heap:N0} bytes over two rounds of 1,000 invocations");
        Assert.True(
            Math.Min(first.Handles, second.Handles) < 10,
            $"{first.Handles} and then {second.Handles} more open handles over two rounds of 1,000 invocations");
        Assert.Equal(1, Api.ConnectionCount);
    }

    [Fact]
    public async Task A_200_MB_body_written_through_Response_Body_streams_in_constant_memory()
    {
        const long total = 200L * 1024 * 1024;
        long peakHeap = 0;
        long heapBefore = 0;
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            var block = new byte[64 * 1024];
            Random.Shared.NextBytes(block);
            heapBefore = SettledHeap();
            for (long written = 0; written < total; written += block.Length)
            {
                await context.Response.Body.WriteAsync(block);
                if (written % (8 * 1024 * 1024) == 0)
                {
                    peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(false));
                }
            }
        }));

        var invocation = Api.Enqueue(TestEvents.FunctionUrl());
        invocation.DiscardBody = true;
        var answer = await invocation.Answer.Within();
        await answer.Completed.WaitAsync(TimeSpan.FromMinutes(3));

        // The body plus a prelude of a few dozen bytes (and its 8-byte delimiter) reached the Runtime API.
        Assert.InRange(answer.DiscardedBytes - total, 8 + 2, 200);
        Assert.Empty(answer.Trailers);
        var growth = peakHeap - heapBefore;
        Assert.True(growth < 32 * 1024 * 1024, $"the heap grew by {growth:N0} bytes while streaming 200 MB");
    }

    [Fact]
    public async Task A_stalled_reader_holds_the_writer_back_instead_of_growing_memory()
    {
        const long total = 64L * 1024 * 1024;
        var blocked = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", async context =>
        {
            var block = new byte[64 * 1024];
            for (long written = 0; written < total; written += block.Length)
            {
                var write = context.Response.Body.WriteAsync(block);
                if (!write.IsCompleted)
                {
                    // The socket is full: this write waits for the reader.
                    blocked.TrySetResult(written);
                }

                await write;
            }
        }));

        var invocation = Api.Enqueue(TestEvents.FunctionUrl());
        invocation.DiscardBody = true;
        invocation.HoldBody();
        var answer = await invocation.Answer.Within();

        var writtenWhenBlocked = await blocked.Task.Within();
        Assert.True(writtenWhenBlocked < 32 * 1024 * 1024, $"{writtenWhenBlocked:N0} bytes were accepted while nothing was read");

        invocation.ReleaseBody();
        await answer.Completed.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.InRange(answer.DiscardedBytes - total, 10, 200);
    }

    [Fact]
    public async Task Synchronous_Response_Body_writes_allocate_nothing_per_write()
    {
        const int writes = 20_000;
        var allocated = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        App = await TestApp.StartAsync(Api, app => app.MapGet("/", context =>
        {
            context.Features.Get<IHttpBodyControlFeature>()!.AllowSynchronousIO = true;
            var block = new byte[64];
            context.Response.Body.Write(block);
            context.Response.Body.Flush();

            // Thread-local count: the writes block on this thread, and other tests' allocations do not count.
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < writes; i++)
            {
                context.Response.Body.Write(block);
            }

            allocated.SetResult(GC.GetAllocatedBytesForCurrentThread() - before);
            return Task.CompletedTask;
        }));

        var invocation = Api.Enqueue(TestEvents.FunctionUrl());
        invocation.DiscardBody = true;
        var answer = await invocation.Answer.Within();
        await answer.Completed.Within();

        // Each write is sent at once (or joins the send in flight); only a write that has to wait for the reader may
        // allocate (blocking on the wait), which is rare with the 64 KiB default cap.
        var bytes = await allocated.Task.Within();
        Assert.True(bytes < writes * 2, $"{bytes:N0} bytes allocated by {writes:N0} synchronous 64-byte writes");
        Assert.InRange(answer.DiscardedBytes - (writes + 1) * 64L, 10, 200);
    }

    private async Task RunAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var answer = await Api.Enqueue(TestEvents.FunctionUrl()).Answer.Within();
            await answer.Completed.Within();
        }
    }

    private async Task<(long Heap, int Handles)> MeasureGrowthAsync(int invocations)
    {
        var heapBefore = SettledHeap();
        var handlesBefore = OpenHandles();
        await RunAsync(invocations);
        return (SettledHeap() - heapBefore, OpenHandles() - handlesBefore);
    }

    private static long SettledHeap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(true);
    }

    private static int OpenHandles() => Directory.GetFiles("/proc/self/fd").Length;
}
