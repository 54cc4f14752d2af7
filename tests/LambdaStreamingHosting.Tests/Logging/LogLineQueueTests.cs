using System.Buffers;
using System.Text;
using LambdaStreamingHosting.Logging;

namespace LambdaStreamingHosting.Tests.Logging;

/// <summary>The queue between callers and standard output: whole lines in order, bounded, never waiting for the output.</summary>
public sealed class LogLineQueueTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public void When_the_output_is_stuck_lines_beyond_the_bound_are_dropped_without_waiting_and_a_notice_says_how_many()
    {
        using var output = new CapturedOutput();
        output.Block();
        using var queue = new LogLineQueue(output, WriteNotice, maxCapacity: 64 * 1024);

        // 100 lines of 1,000 bytes: what the blocked writer took stays counted until written, so 65 lines fit in 64 KiB.
        for (var i = 0; i < 100; i++)
        {
            queue.Enqueue(Line(i, 1000));
        }

        var dropped = queue.DroppedTotal;
        Assert.Equal(35, dropped);
        output.Open();
        Assert.True(queue.Flush(Generous));
        queue.Dispose();

        var lines = output.Lines;
        var kept = lines.Where(line => line.StartsWith("line ", StringComparison.Ordinal)).ToList();
        Assert.Equal(100 - dropped, kept.Count);
        Assert.Equal(Enumerable.Range(0, kept.Count).Select(i => $"line {i}"), kept.Select(line => line[..line.IndexOf(':', StringComparison.Ordinal)]));
        Assert.All(kept, line => Assert.Equal(999, line.Length));
        Assert.Equal($"dropped {dropped}", Assert.Single(lines, line => line.StartsWith("dropped", StringComparison.Ordinal)));
    }

    [Fact]
    public void Lines_wrapping_around_the_ring_and_growing_it_come_out_whole_and_in_order()
    {
        using var output = new CapturedOutput();
        using var queue = new LogLineQueue(output, WriteNotice);
        var sizes = new[] { 100, 7_000, 30_000, 50, 64 * 1024, 200_000, 30 };
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < sizes.Length; i++)
            {
                queue.Enqueue(Line((round * sizes.Length) + i, sizes[i]));
            }
        }

        Assert.True(queue.Flush(Generous));

        var lines = output.Lines;
        Assert.Equal(2 * sizes.Length, lines.Length);
        for (var n = 0; n < lines.Length; n++)
        {
            Assert.StartsWith($"line {n}:", lines[n], StringComparison.Ordinal);
            Assert.Equal(sizes[n % sizes.Length] - 1, lines[n].Length);
        }

        Assert.Equal(0, queue.DroppedTotal);
    }

    [Fact]
    public async Task Dispose_writes_out_what_is_queued_and_later_lines_are_written_at_once()
    {
        using var output = new CapturedOutput();
        output.Block();
        var queue = new LogLineQueue(output, WriteNotice);
        queue.Enqueue(Line(0, 100));
        queue.Enqueue(Line(1, 100));
        var disposed = Task.Run(queue.Dispose);
        output.Open();
        await disposed.WaitAsync(Generous);

        queue.Enqueue(Line(2, 100));

        Assert.Equal(["line 0", "line 1", "line 2"], output.Lines.Select(line => line[..6]));
    }

    [Fact]
    public void A_console_line_never_lands_inside_a_log_line_that_the_output_took_in_part()
    {
        // A full pipe takes a large write in parts: a line the app writes with Console.WriteLine in between would split
        // a log line into two CloudWatch events (and garble both). The writer holds Console.Out's lock while it writes.
        using var output = new CapturedOutput();
        output.TakeNextWriteInPart();
        var console = TextWriter.Synchronized(new StreamWriter(output, new UTF8Encoding(false)) { AutoFlush = true });
        using var queue = new LogLineQueue(output, WriteNotice, outputLock: () => console);
        queue.Enqueue(Line(0, 10_000));
        Assert.True(output.PartTaken.Wait(Generous)); // the writer is half-way through the log line

        var app = new Thread(() => console.WriteLine("console line"));
        app.Start();
        // Either the console line went out at once (into the middle of the log line), or it waits for the writer.
        Assert.True(SpinWait.SpinUntil(() => !app.IsAlive || (app.ThreadState & ThreadState.WaitSleepJoin) != 0, Generous));
        output.TakeTheRest();
        Assert.True(app.Join(Generous));
        Assert.True(queue.Flush(Generous));

        var lines = output.Lines;
        Assert.Equal(2, lines.Length);
        Assert.Equal(9_999, Assert.Single(lines, line => line.StartsWith("line 0:", StringComparison.Ordinal)).Length);
        Assert.Contains("console line", lines);
    }

    private static byte[] Line(int number, int length)
    {
        var head = $"line {number}:";
        var line = new byte[Math.Max(length, head.Length + 1)];
        Encoding.ASCII.GetBytes(head).CopyTo(line, 0);
        line.AsSpan(head.Length, line.Length - head.Length - 1).Fill((byte)'x');
        line[^1] = (byte)'\n';
        return line;
    }

    private static void WriteNotice(long dropped, IBufferWriter<byte> output) => output.Write(Encoding.ASCII.GetBytes($"dropped {dropped}\n"));
}
