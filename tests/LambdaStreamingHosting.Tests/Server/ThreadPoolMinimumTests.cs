using LambdaStreamingHosting.Server;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>The thread pool's minimum the server asks for: one thread per loop plus the processors, with several loops.</summary>
public sealed class ThreadPoolMinimumTests
{
    [Theory]
    [InlineData(1, null, 2, null)] // one loop: the pool is left alone
    [InlineData(32, null, 2, 34)]
    [InlineData(8, null, 1, 9)]
    [InlineData(32, 0, 2, null)] // AWS_LAMBDA_DOTNET_MIN_THREADS=0: left alone
    [InlineData(32, 100, 2, 100)]
    [InlineData(1, 16, 2, 16)] // set explicitly, it applies with one loop too
    public void The_minimum_follows_the_loops_unless_configured(int loops, int? configured, int processors, int? expected) =>
        Assert.Equal(expected, ThreadPoolMinimum.For(loops, configured, processors));

    [Theory]
    [InlineData("64", 64)]
    [InlineData("0", 0)]
    [InlineData("-1", null)]
    [InlineData("many", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void AWS_LAMBDA_DOTNET_MIN_THREADS_is_a_count(string? value, int? expected) =>
        Assert.Equal(expected, ThreadPoolMinimum.Parse(value));
}
