namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// The Runtime API cannot be used any more (it answered 500, refused the connection or broke the protocol): the
/// process must exit promptly with a non-zero code so Lambda resets the environment.
/// </summary>
internal sealed class RuntimeApiFatalException : Exception
{
    public RuntimeApiFatalException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}
