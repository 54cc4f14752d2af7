using System.Runtime.CompilerServices;
using System.Threading.Channels;
using StreamingApi.Components;
using StreamingApi.Streaming;

namespace StreamingApi.Tests;

/// <summary>A token generator that yields exactly the tokens the test writes, when it writes them.</summary>
public sealed class GatedTokenGenerator : ITokenGenerator
{
    private readonly Channel<string> _tokens = Channel.CreateUnbounded<string>();

    /// <summary>Lets the server produce <paramref name="token"/>.</summary>
    public void Produce(string token) => Assert.True(_tokens.Writer.TryWrite(token));

    /// <summary>Ends the answer.</summary>
    public void Complete() => _tokens.Writer.Complete();

    public async IAsyncEnumerable<string> GenerateAsync(string prompt, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var token in _tokens.Reader.ReadAllAsync(cancellationToken))
        {
            yield return token;
        }
    }
}

/// <summary>Report data that becomes available when the test releases it.</summary>
public sealed class GatedReportSource : IReportSource
{
    private readonly TaskCompletionSource<IReadOnlyList<ReportRow>> _rows = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Makes the report's data available.</summary>
    public void Release(IReadOnlyList<ReportRow> rows) => _rows.TrySetResult(rows);

    public Task<IReadOnlyList<ReportRow>> LoadAsync(CancellationToken cancellationToken) => _rows.Task.WaitAsync(cancellationToken);
}
