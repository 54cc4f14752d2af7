using System.Threading.Channels;

namespace LambdaStreamingHosting.Testing;

/// <summary>How the execution environment came to handle an invocation.</summary>
internal enum InvocationStart
{
    /// <summary>The first invocation of a new environment (the function just started, or started again after a reset).</summary>
    Cold,

    /// <summary>SnapStart: the first invocation of an environment restored from the function's snapshot.</summary>
    Restored,

    /// <summary>The environment was frozen while idle and thawed for this invocation.</summary>
    Thawed,

    /// <summary>The environment was running already (not frozen between invocations).</summary>
    Warm,
}

/// <summary>Something that happened to an invocation, <see cref="At"/> after the emulator received the client's request.</summary>
internal abstract record InvocationFeedEvent(string RequestId, TimeSpan At);

/// <summary>The client's request arrived (the invocation is queued for the function, or refused at once).</summary>
internal sealed record InvocationArrived(string RequestId, LambdaFrontDoor FrontDoor, string Method, string Target, DateTimeOffset StartedAt)
    : InvocationFeedEvent(RequestId, TimeSpan.Zero);

/// <summary>The function was given the event.</summary>
internal sealed record InvocationDelivered(string RequestId, TimeSpan At, InvocationStart Start) : InvocationFeedEvent(RequestId, At);

/// <summary>
/// A piece of the response body reached the client: the emulator's flush to the client's connection completed
/// <see cref="InvocationFeedEvent.At"/> after the request, with <paramref name="Bytes"/> bytes written since the previous one.
/// </summary>
internal sealed record ChunkSent(string RequestId, TimeSpan At, long Bytes, int StatusCode) : InvocationFeedEvent(RequestId, At);

/// <summary>The function broke the protocol during the invocation.</summary>
internal sealed record ViolationSeen(string RequestId, TimeSpan At, string Message) : InvocationFeedEvent(RequestId, At);

/// <summary>The invocation ended; <paramref name="Chunks"/> is how many pieces of body reached the client in all.</summary>
internal sealed record InvocationEnded(string RequestId, LambdaInvocationRecord Record, int Chunks)
    : InvocationFeedEvent(RequestId, Record.Duration);

/// <summary>
/// A live feed of what happens to invocations, for the timeline page: the events of the last
/// <see cref="KeptInvocations"/> invocations (so a page opened late shows them) and the events as they happen, to each
/// subscriber through its own bounded queue. Publishing never waits: a subscriber that falls
/// <see cref="SubscriberBacklog"/> events behind is dropped (its page reconnects and starts again from the kept events).
/// An invocation keeps at most <see cref="MaxChunkEventsPerInvocation"/> chunk events; its end tells the full count.
/// Thread-safe.
/// </summary>
internal sealed class InvocationFeed
{
    public const int KeptInvocations = 100;
    public const int MaxChunkEventsPerInvocation = 1000;
    public const int SubscriberBacklog = 4096;
    public const int MaxSubscribers = 32;

    private readonly Lock _sync = new();
    private readonly Dictionary<string, KeptInvocation> _kept = new(StringComparer.Ordinal);
    private readonly Queue<KeptInvocation> _keptOrder = new(); // oldest first
    private readonly List<InvocationFeedSubscription> _subscribers = [];
    private bool _stopped;

    /// <summary>Records an event and passes it to every subscriber that keeps up.</summary>
    public void Publish(InvocationFeedEvent feedEvent)
    {
        lock (_sync)
        {
            if (!Keep(feedEvent))
            {
                return;
            }

            for (var i = _subscribers.Count - 1; i >= 0; i--)
            {
                var subscriber = _subscribers[i];
                if (!subscriber.Writer.TryWrite(feedEvent))
                {
                    subscriber.Overflowed = true;
                    subscriber.Writer.TryComplete();
                    _subscribers.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>
    /// A subscription: the kept events, oldest first, then each new one; <see langword="null"/> when the feed has stopped
    /// or has <see cref="MaxSubscribers"/> subscribers already.
    /// </summary>
    public InvocationFeedSubscription? Subscribe()
    {
        lock (_sync)
        {
            if (_stopped || _subscribers.Count >= MaxSubscribers)
            {
                return null;
            }

            var subscription = new InvocationFeedSubscription(this, [.. _keptOrder.SelectMany(kept => kept.Events)]);
            _subscribers.Add(subscription);
            return subscription;
        }
    }

    /// <summary>Ends every subscription (the emulator stops) and takes no new ones.</summary>
    public void Stop()
    {
        lock (_sync)
        {
            _stopped = true;
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryComplete();
            }

            _subscribers.Clear();
        }
    }

    internal void Unsubscribe(InvocationFeedSubscription subscription)
    {
        lock (_sync)
        {
            _subscribers.Remove(subscription);
            subscription.Writer.TryComplete();
        }
    }

    // Under _sync. Whether the event is passed on (chunk events past the limit are not).
    private bool Keep(InvocationFeedEvent feedEvent)
    {
        if (feedEvent is InvocationArrived)
        {
            var kept = new KeptInvocation();
            kept.Events.Add(feedEvent);
            _kept[feedEvent.RequestId] = kept;
            _keptOrder.Enqueue(kept);
            while (_keptOrder.Count > KeptInvocations)
            {
                var oldest = _keptOrder.Dequeue();
                _kept.Remove(oldest.Events[0].RequestId);
            }

            return true;
        }

        if (!_kept.TryGetValue(feedEvent.RequestId, out var invocation))
        {
            return true; // no longer kept (many newer ones since): still live news
        }

        if (feedEvent is ChunkSent && ++invocation.ChunkEvents > MaxChunkEventsPerInvocation)
        {
            return false;
        }

        invocation.Events.Add(feedEvent);
        return true;
    }

    private sealed class KeptInvocation
    {
        public List<InvocationFeedEvent> Events { get; } = [];

        public int ChunkEvents { get; set; }
    }
}

/// <summary>One subscriber of an <see cref="InvocationFeed"/>: the events kept when it subscribed, then the live ones.</summary>
internal sealed class InvocationFeedSubscription : IDisposable
{
    private readonly InvocationFeed _feed;
    private readonly Channel<InvocationFeedEvent> _events = Channel.CreateBounded<InvocationFeedEvent>(
        new BoundedChannelOptions(InvocationFeed.SubscriberBacklog) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    internal InvocationFeedSubscription(InvocationFeed feed, IReadOnlyList<InvocationFeedEvent> kept)
    {
        _feed = feed;
        Kept = kept;
    }

    /// <summary>The events the feed kept when this subscription started, oldest first.</summary>
    public IReadOnlyList<InvocationFeedEvent> Kept { get; }

    /// <summary>The events published since; completes when the feed stops, or when this subscriber fell behind.</summary>
    public ChannelReader<InvocationFeedEvent> Events => _events.Reader;

    /// <summary>Whether the subscription ended because the subscriber fell <see cref="InvocationFeed.SubscriberBacklog"/> events behind.</summary>
    public bool Overflowed { get; internal set; }

    internal ChannelWriter<InvocationFeedEvent> Writer => _events.Writer;

    public void Dispose() => _feed.Unsubscribe(this);
}
