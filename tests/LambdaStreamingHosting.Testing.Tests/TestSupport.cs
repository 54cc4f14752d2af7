using System.Net.Http.Headers;
using System.Text;

namespace LambdaStreamingHosting.Testing.Tests;

internal static class TestSupport
{
    /// <summary>Generous bound for waiting on signals; never used as a sleep.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public static HttpClient Client(Uri baseAddress) =>
        new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = baseAddress, Timeout = Patience };

    public static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string? body = null, string? contentType = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            if (contentType is not null)
            {
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            }
        }

        return client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes of a response body as they arrive.</summary>
    public static async Task<string> ReadExactlyAsync(Stream body, int count)
    {
        var buffer = new byte[count];
        await body.ReadExactlyAsync(buffer).AsTask().WaitAsync(Patience);
        return Encoding.UTF8.GetString(buffer);
    }

    /// <summary>Disposes an emulator that is expected to report protocol violations, and returns them.</summary>
    public static async Task<IReadOnlyList<string>> DisposeExpectingViolationsAsync(LambdaEmulator emulator)
    {
        var error = await Assert.ThrowsAsync<LambdaProtocolViolationException>(() => emulator.DisposeAsync().AsTask());
        Assert.NotEmpty(error.Violations);
        return error.Violations;
    }

    public static T Await<T>(this Task<T> task) => task.WaitAsync(Patience).GetAwaiter().GetResult();
}

/// <summary>An execution environment that records what the emulator asked of it.</summary>
internal sealed class RecordingEnvironment : IFunctionEnvironment
{
    private readonly Lock _sync = new();
    private readonly List<string> _calls = [];

    public TaskCompletionSource<string> Reset { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Frozen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<string> Calls
    {
        get
        {
            lock (_sync)
            {
                return [.. _calls];
            }
        }
    }

    public ValueTask FreezeAsync(CancellationToken cancellationToken)
    {
        Record("freeze");
        Frozen.TrySetResult();
        return ValueTask.CompletedTask;
    }

    public ValueTask ThawAsync(CancellationToken cancellationToken)
    {
        Record("thaw");
        return ValueTask.CompletedTask;
    }

    public ValueTask ResetAsync(string reason, CancellationToken cancellationToken)
    {
        Record("reset:" + reason);
        Reset.TrySetResult(reason);
        return ValueTask.CompletedTask;
    }

    private void Record(string call)
    {
        lock (_sync)
        {
            _calls.Add(call);
        }
    }
}
