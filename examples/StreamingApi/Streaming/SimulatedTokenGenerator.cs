using System.Runtime.CompilerServices;

namespace StreamingApi.Streaming;

/// <summary>
/// Stands in for a model: answers every prompt with the same text, one word every <c>Tokens:DelayMilliseconds</c>.
/// </summary>
internal sealed class SimulatedTokenGenerator(TimeSpan delay) : ITokenGenerator
{
    private const string Answer =
        "Streaming sends each token to the client as soon as it exists, so the first words appear "
        + "in milliseconds instead of after the whole answer is ready.";

    public async IAsyncEnumerable<string> GenerateAsync(string prompt, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var words = Answer.Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            await Task.Delay(delay, cancellationToken);
            yield return i == words.Length - 1 ? words[i] : words[i] + " ";
        }
    }
}
