namespace LambdaStreamingHosting.Testing;

/// <summary>
/// Lambda's pacing of a streamed response: the first <c>uncappedBytes</c> go at full speed, later bytes at
/// <c>bytesPerSecond</c>, measured from the moment the uncapped allowance ran out. Deterministic: the wait depends only
/// on the byte count and the clock.
/// </summary>
internal sealed class BandwidthShaper(long uncappedBytes, long bytesPerSecond, TimeProvider timeProvider)
{
    private long _sent;
    private long? _throttleStartTimestamp;

    /// <summary>
    /// How long to wait before <paramref name="bytes"/> more bytes may be sent, given that <paramref name="sentSoFar"/>
    /// were sent and pacing began <paramref name="sinceThrottleStart"/> ago.
    /// </summary>
    public static TimeSpan DelayBefore(long sentSoFar, long bytes, long uncappedBytes, long bytesPerSecond, TimeSpan sinceThrottleStart)
    {
        var throttled = sentSoFar + bytes - uncappedBytes;
        if (throttled <= 0)
        {
            return TimeSpan.Zero;
        }

        var earliest = TimeSpan.FromSeconds((double)throttled / bytesPerSecond);
        var delay = earliest - sinceThrottleStart;
        return delay > TimeSpan.Zero ? delay : TimeSpan.Zero;
    }

    /// <summary>Waits until <paramref name="bytes"/> more bytes may be sent, then counts them as sent.</summary>
    public async ValueTask WaitAsync(long bytes, CancellationToken cancellationToken)
    {
        if (_sent + bytes > uncappedBytes && _throttleStartTimestamp is null)
        {
            _throttleStartTimestamp = timeProvider.GetTimestamp();
        }

        var since = _throttleStartTimestamp is { } start ? timeProvider.GetElapsedTime(start) : TimeSpan.Zero;
        var delay = DelayBefore(_sent, bytes, uncappedBytes, bytesPerSecond, since);
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, timeProvider, cancellationToken);
        }

        _sent += bytes;
    }
}
