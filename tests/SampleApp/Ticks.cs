namespace SampleApp;

/// <summary>The pace of the <c>/ticks</c> endpoint. Tests replace it to control when each line is written.</summary>
public interface ITicks
{
    /// <summary>Completes when the next line is due.</summary>
    Task NextAsync(CancellationToken cancellationToken);
}

/// <summary>One tick every 200 ms.</summary>
internal sealed class DelayTicks : ITicks
{
    public Task NextAsync(CancellationToken cancellationToken) => Task.Delay(200, cancellationToken);
}
