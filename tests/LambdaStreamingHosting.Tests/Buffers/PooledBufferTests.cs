using System.Buffers;
using LambdaStreamingHosting.Buffers;

namespace LambdaStreamingHosting.Tests.Buffers;

public sealed class PooledBufferTests
{
    [Fact]
    public void Bytes_written_in_pieces_read_back_whole_as_the_buffer_grows()
    {
        using var buffer = new PooledBuffer(minimumSize: 16, retainedSize: 1024);
        var expected = new byte[5000];
        Random.Shared.NextBytes(expected);
        for (var at = 0; at < expected.Length; at += 333)
        {
            buffer.Write(expected.AsSpan(at, Math.Min(333, expected.Length - at)));
        }

        Assert.Equal(expected.Length, buffer.Length);
        Assert.True(buffer.WrittenSpan.SequenceEqual(expected));
        Assert.True(buffer.WrittenMemory.Span.SequenceEqual(expected));
    }

    [Fact]
    public void Release_keeps_an_array_up_to_the_retained_size_for_the_next_use()
    {
        using var buffer = new PooledBuffer();
        buffer.Write(new byte[1000]);
        var kept = buffer.Capacity;
        buffer.Release();

        Assert.InRange(kept, 1000, buffer.RetainedSize);
        Assert.Equal(kept, buffer.Capacity);
        Assert.Equal(0, buffer.Length);
        Assert.True(buffer.WrittenMemory.IsEmpty);
    }

    [Fact]
    public void Release_lets_a_huge_array_go_and_clear_keeps_it_for_the_same_use()
    {
        using var buffer = new PooledBuffer();
        buffer.Write(new byte[6 * 1024 * 1024]);
        Assert.Equal(6 * 1024 * 1024, buffer.Length);

        buffer.Clear(); // the same use writes again (a buffered answer replaced by a 500): the array stays
        Assert.True(buffer.Capacity >= 6 * 1024 * 1024);
        Assert.Equal(0, buffer.Length);

        buffer.Release(); // the invocation is over: 6 MB are not kept for the life of the process
        Assert.Equal(0, buffer.Capacity);
        Assert.True(buffer.WrittenMemory.IsEmpty);

        buffer.Write("next"u8);
        Assert.True(buffer.WrittenSpan.SequenceEqual("next"u8));
        Assert.InRange(buffer.Capacity, 4, buffer.RetainedSize);
    }

    [Fact]
    public void Advancing_past_the_memory_handed_out_throws_and_keeps_what_was_written()
    {
        using var buffer = new PooledBuffer(minimumSize: 64, retainedSize: 1024);
        buffer.Write("abc"u8);
        var free = buffer.GetSpan().Length;

        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Advance(free + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Advance(-1));
        Assert.True(buffer.WrittenSpan.SequenceEqual("abc"u8));
    }

    [Fact]
    public void A_size_hint_is_honoured_in_one_step()
    {
        using var buffer = new PooledBuffer(minimumSize: 16, retainedSize: 1024);
        buffer.Write("x"u8);

        Assert.True(buffer.GetSpan(100_000).Length >= 100_000);
        Assert.True(buffer.WrittenSpan.SequenceEqual("x"u8));
    }

    [Fact]
    public void Retained_size_smaller_than_the_first_array_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PooledBuffer(minimumSize: 4096, retainedSize: 1024));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PooledBuffer(minimumSize: 0));
    }
}
