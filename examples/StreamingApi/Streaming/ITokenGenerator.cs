namespace StreamingApi.Streaming;

/// <summary>Produces an answer to a prompt token by token, the way a large language model does.</summary>
public interface ITokenGenerator
{
    /// <summary>Yields the answer's tokens as they are produced.</summary>
    /// <param name="prompt">The question.</param>
    /// <param name="cancellationToken">Signalled when the client goes away or the invocation nears its deadline.</param>
    IAsyncEnumerable<string> GenerateAsync(string prompt, CancellationToken cancellationToken);
}
