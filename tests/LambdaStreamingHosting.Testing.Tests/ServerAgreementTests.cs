using System.Text;
using static LambdaStreamingHosting.Testing.Tests.TestSupport;

namespace LambdaStreamingHosting.Testing.Tests;

/// <summary>
/// The same scenarios answered twice: by the raw-socket client written from the protocol notes, and by the real
/// LambdaStreamingHosting server running the sample app. A Function URL caller must not be able to tell them apart.
/// </summary>
public class ServerAgreementTests : IClassFixture<LambdaApplicationFactory<Program>>
{
    private readonly LambdaApplicationFactory<Program> _factory;

    public ServerAgreementTests(LambdaApplicationFactory<Program> factory) => _factory = factory;

    /// <summary>What a caller can see of a response.</summary>
    private sealed record Observation(int Status, string? ContentType, string Cookies, string Body, bool Cut);

    [Theory]
    [InlineData("GET /hello")]
    [InlineData("GET /cookies")]
    [InlineData("GET /fail-midway")]
    [InlineData("GET /status/204")]
    [InlineData("GET /status/302")]
    [InlineData("POST /echo")]
    public async Task Raw_client_and_real_server_look_the_same_to_the_caller(string scenario)
    {
        var viaServer = await ObserveAsync(_factory.CreateDefaultClient(), scenario);

        await using var emulator = await LambdaEmulator.StartAsync();
        var function = Task.Run(() => AnswerAsTheSpecSaysAsync(new RawRuntimeClient(emulator.RuntimeApiEndpoint), scenario));
        var viaRawClient = await ObserveAsync(Client(emulator.FunctionUrl), scenario);
        await function.WaitAsync(Patience);

        Assert.Equal(viaRawClient, viaServer);
    }

    private static async Task<Observation> ObserveAsync(HttpClient client, string scenario)
    {
        using (client)
        {
            var (method, path) = (scenario.Split(' ')[0], scenario.Split(' ')[1]);
            var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (method == "POST")
            {
                request.Content = new ByteArrayContent([0, 1, 2, 200, 255]);
                request.Content.Headers.ContentType = new("application/octet-stream");
            }

            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(Patience);
            var body = new MemoryStream();
            var cut = false;
            try
            {
                await (await response.Content.ReadAsStreamAsync()).CopyToAsync(body).WaitAsync(Patience);
            }
            catch (IOException)
            {
                cut = true;
            }

            var cookies = response.Headers.TryGetValues("Set-Cookie", out var values) ? string.Join(" | ", values) : "";
            return new Observation((int)response.StatusCode, response.Content.Headers.ContentType?.ToString(), cookies, Convert.ToBase64String(body.ToArray()), cut);
        }
    }

    /// <summary>The sample app's behaviour, written by hand on the wire as the protocol notes describe it.</summary>
    private static async Task AnswerAsTheSpecSaysAsync(RawRuntimeClient runtime, string scenario)
    {
        var invocation = await runtime.NextAsync();
        await using var answer = await runtime.BeginStreamAsync(invocation.RequestId);
        switch (scenario)
        {
            case "GET /hello":
                await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200,"headers":{"content-type":"text/plain; charset=utf-8"}}"""));
                await answer.WriteChunkAsync("Hello from Lambda");
                await answer.EndAsync();
                break;
            case "GET /cookies":
                await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200,"headers":{"content-type":"text/plain; charset=utf-8"},"cookies":["session=abc; path=/; httponly","theme=dark; path=/"]}"""));
                await answer.WriteChunkAsync("two cookies");
                await answer.EndAsync();
                break;
            case "GET /fail-midway":
                await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200}"""));
                await answer.WriteChunkAsync("partial ");
                await answer.EndAsync(
                    ("Lambda-Runtime-Function-Error-Type", "System.InvalidOperationException"),
                    ("Lambda-Runtime-Function-Error-Body", RawRuntimeClient.ErrorTrailerBody("System.InvalidOperationException", "failed")));
                break;
            case "GET /status/204":
                await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":204}"""));
                await answer.EndAsync();
                break;
            case "GET /status/302":
                await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":302}"""));
                await answer.EndAsync();
                break;
            case "POST /echo":
                var body = Convert.FromBase64String(invocation.Json.GetProperty("body").GetString()!);
                await answer.WriteChunkAsync(RawRuntimeClient.Prelude("""{"statusCode":200,"headers":{"content-type":"application/octet-stream"}}"""));
                await answer.WriteChunkAsync(body);
                await answer.EndAsync();
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(scenario), scenario, null);
        }
    }
}
