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

    /// <summary>
    /// Sends <paramref name="request"/> to a front door, takes its event from <c>/next</c> with the raw client, lets
    /// <paramref name="answer"/> answer it, and returns the event and the client's response (headers read).
    /// </summary>
    public static async Task<(System.Text.Json.JsonElement Event, HttpResponseMessage Response)> RoundTripAsync(
        LambdaEmulator emulator, Uri door, HttpRequestMessage request, Func<RawRuntimeClient, string, Task> answer)
    {
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        using var http = Client(door);
        var sent = http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var invocation = await runtime.NextAsync().WaitAsync(Patience);
        await answer(runtime, invocation.RequestId).WaitAsync(Patience);
        var response = await sent.WaitAsync(Patience);
        await response.Content.LoadIntoBufferAsync();
        return (invocation.Json, response);
    }

    /// <summary>As <see cref="RoundTripAsync"/>, with a hand-written request (repeated header lines survive).</summary>
    public static async Task<(System.Text.Json.JsonElement Event, RawRuntimeClient.Reply Response)> RoundTripRawAsync(
        LambdaEmulator emulator, Uri door, string requestLine, string[] headerLines, Func<RawRuntimeClient, string, Task> answer)
    {
        var runtime = new RawRuntimeClient(emulator.RuntimeApiEndpoint);
        var frontDoor = new RawRuntimeClient($"{door.Host}:{door.Port}");
        var request = $"{requestLine} HTTP/1.1\r\nHost: {door.Host}:{door.Port}\r\n{string.Concat(headerLines.Select(h => h + "\r\n"))}Connection: close\r\n\r\n";
        var sent = frontDoor.SendRawAsync(request);
        var invocation = await runtime.NextAsync().WaitAsync(Patience);
        await answer(runtime, invocation.RequestId).WaitAsync(Patience);
        return (invocation.Json, await sent.WaitAsync(Patience));
    }

    /// <summary>Answers buffered with a JSON document.</summary>
    public static Func<RawRuntimeClient, string, Task> Buffered(string json) =>
        async (runtime, id) => Assert.Equal(202, (await runtime.PostBufferedAsync(id, json)).Status);

    /// <summary>Answers with a stream: the prelude, then the body in one chunk.</summary>
    public static Func<RawRuntimeClient, string, Task> Streamed(string prelude, string body) =>
        async (runtime, id) =>
        {
            await using var answer = await runtime.BeginStreamAsync(id);
            await answer.WriteChunkAsync(RawRuntimeClient.Prelude(prelude));
            await answer.WriteChunkAsync(body);
            Assert.Equal(202, (await answer.EndAsync()).Status);
        };

    /// <summary>Every property path of a JSON object (not descending into header, query, variable or claim maps).</summary>
    public static SortedSet<string> PropertyPaths(System.Text.Json.JsonElement element, string prefix = "")
    {
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        if (element.ValueKind != System.Text.Json.JsonValueKind.Object)
        {
            return paths;
        }

        foreach (var property in element.EnumerateObject())
        {
            var path = prefix + property.Name;
            paths.Add(path);
            if (!property.Name.Contains("eaders", StringComparison.Ordinal) && !property.Name.Contains("Parameters", StringComparison.Ordinal) &&
                property.Name is not ("stageVariables" or "claims" or "authorizer"))
            {
                paths.UnionWith(PropertyPaths(property.Value, path + "."));
            }
        }

        return paths;
    }

    public static System.Text.Json.JsonElement Golden(string name) =>
        System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Events", name))).RootElement;
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
