namespace StreamingApi.Components;

/// <summary>A row of the <c>/report</c> page.</summary>
/// <param name="Region">The region.</param>
/// <param name="Sales">Its sales.</param>
public sealed record ReportRow(string Region, int Sales);

/// <summary>Loads the data behind the <c>/report</c> page: slow, which is why the page uses streaming rendering.</summary>
public interface IReportSource
{
    /// <summary>Loads the report's rows.</summary>
    Task<IReadOnlyList<ReportRow>> LoadAsync(CancellationToken cancellationToken);
}

/// <summary>Stands in for a slow query: answers after one second.</summary>
internal sealed class SimulatedReportSource : IReportSource
{
    public async Task<IReadOnlyList<ReportRow>> LoadAsync(CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        return [new("North", 1200), new("South", 950), new("East", 1430), new("West", 870)];
    }
}
