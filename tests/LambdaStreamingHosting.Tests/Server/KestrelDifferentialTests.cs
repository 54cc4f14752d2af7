using System.Diagnostics;
using System.Globalization;
using System.Text;
using LambdaStreamingHosting.Tests.Support;
using Xunit.Abstractions;

namespace LambdaStreamingHosting.Tests.Server;

/// <summary>
/// The same app on Kestrel and behind the emulator's streaming Function URL, one write style per case. Kestrel runs
/// first: what it delivers to the client before each of the app's next steps is the expectation, and the Lambda path
/// must deliver the same pieces before the same steps, with the same status, headers and bytes.
/// </summary>
/// <remarks>
/// <para>
/// Between two pieces the app waits at a gate the test opens (<see cref="StepScript"/>). Where Kestrel delivers a
/// piece, the test waits until the client has it, then opens the gate: no sleep decides anything. Where Kestrel holds a
/// piece back (<c>GetMemory</c>/<c>Advance</c> without a flush; the compression middleware might, and is measured the
/// same way: with this framework Kestrel sent each piece written to it), waiting for it would never end, and waiting
/// "long enough" would be a sleep. So at each step the app reads its
/// server's wire probe: the body bytes the server had handed to its transport by then (Kestrel: a connection middleware
/// counting what it flushes to the socket's pipe; Lambda: the body bytes committed to the Runtime API connection). Where
/// the step comes right after the piece's write returned, in the same flow (the app's own writes, the copy loops of
/// <c>Results.Stream</c> and <c>CopyToAsync</c>, server-sent events), no new bytes on Kestrel's wire means held back,
/// and the Lambda path must not have sent it either; the piece must then arrive later. Where the framework writes after
/// the step (the JSON serializer flushes once it sees the next item is not ready, Razor renders once the component
/// awaits, the relay writes what the upstream sent), the probe cannot tell, so the piece is expected, and the Kestrel
/// run proves that Kestrel does deliver it before the step.
/// </para>
/// <para>
/// Headers compared: all but <c>Date</c> (the time), <c>Server</c> (each front end names itself), <c>Connection</c>
/// (hop-by-hop), <c>Transfer-Encoding</c> and <c>Content-Length</c> (framing: a streamed prelude cannot carry them, the
/// Function URL frames the stream itself).
/// </para>
/// </remarks>
public sealed class KestrelDifferentialTests(DifferentialApp servers, ITestOutputHelper output) : IClassFixture<DifferentialApp>
{
    private static readonly string[] FramingHeaders = ["Date", "Server", "Connection", "Transfer-Encoding", "Content-Length"];

    /// <summary>The write styles: name, path, whether the step comes right after the piece's write (the probe can tell), the encoding asked for.</summary>
    public static TheoryData<string> Styles => [.. All.Select(style => style.Name)];

    private static readonly Style[] All =
    [
        new("Response.Body.WriteAsync without flush", "/write"),
        new("Response.WriteAsync(string)", "/write-string"),
        new("BodyWriter.WriteAsync", "/body-writer"),
        new("GetMemory/Advance then FlushAsync", "/advance-flush"),
        new("GetMemory/Advance without flush", "/advance-without-flush"),
        new("synchronous Response.Body.Write (AllowSynchronousIO)", "/sync-write"),
        new("Results.Stream over a slow stream", "/results-stream"),
        new("CopyToAsync from a slow stream", "/copy-to"),
        new("HttpClient relay of a slow upstream", "/relay", StepAfterWrite: false),
        new("TypedResults.ServerSentEvents", "/server-sent-events"),
        new("IAsyncEnumerable<T> as JSON", "/async-enumerable", StepAfterWrite: false),
        new("SendFileAsync", "/send-file"),
        new("Razor component with [StreamRendering]", "/razor", StepAfterWrite: false),
        new("response compression, WriteAsync without flush", "/compressed/write", AcceptEncoding: "br"),
        new("response compression, WriteAsync then FlushAsync", "/compressed/write-flush", AcceptEncoding: "br"),
    ];

    [Theory]
    [MemberData(nameof(Styles))]
    public async Task Each_piece_Kestrel_delivers_before_the_apps_next_step_arrives_before_it_through_the_Function_URL(string name)
    {
        var style = All.Single(s => s.Name == name);

        var kestrel = await RunAsync(servers.KestrelUrl, style, expected: null);
        var lambda = await RunAsync(servers.FunctionUrl, style, kestrel);

        var timelines = $"\nKestrel: {kestrel.Timeline}\nLambda:  {lambda.Timeline}";
        output.WriteLine($"{style.Name}:{timelines}");
        Assert.True(kestrel.Status == lambda.Status, $"{style.Name}: status {lambda.Status} through the Function URL, {kestrel.Status} on Kestrel.{timelines}");
        Assert.True(kestrel.Headers == lambda.Headers, $"{style.Name}: headers differ.\nKestrel: {kestrel.Headers}\nLambda:  {lambda.Headers}");
        Assert.True(kestrel.Body.AsSpan().SequenceEqual(lambda.Body),
            $"{style.Name}: the bodies differ ({kestrel.Body.Length} bytes on Kestrel, {lambda.Body.Length} through the Function URL).\n" +
            $"Kestrel: {Tail(kestrel.Decoded)}\nLambda:  {Tail(lambda.Decoded)}");
        for (var piece = 1; piece <= StepScript.MaxPieces; piece++)
        {
            Assert.Contains(StepScript.Piece(piece), lambda.Decoded, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// Requests <paramref name="style"/> from <paramref name="server"/>, stepping the app through its pieces. Without
    /// <paramref name="expected"/> (Kestrel) it records what was delivered before each step; with it, it requires the same.
    /// </summary>
    private async Task<Run> RunAsync(Uri server, Style style, Run? expected)
    {
        var script = servers.NewScript(StepScript.MaxPieces);
        using var recorder = ArrivalRecorder.Start(servers.Client, new Uri(server, $"{style.Path}?script={script.Id}"), style.AcceptEncoding);
        var steps = new List<Step>();
        long wireBefore = 0;
        try
        {
            for (var piece = 1; piece < script.Pieces; piece++)
            {
                var reaching = script.ReachedAsync(piece);
                if (await Task.WhenAny(reaching, recorder.Completion) != reaching)
                {
                    Assert.Fail($"{style.Name}: the response ended before the app reached step {piece}: " +
                        $"{(recorder.Completion.IsFaulted ? recorder.Completion.Exception!.InnerException!.Message : $"status {(int)recorder.Response.StatusCode}, body '{Tail(recorder.Decoded)}'")}.");
                }

                var reached = await reaching;
                var wireDuring = style.StepAfterWrite && reached.WireBodyBytes is { } wire ? wire - wireBefore : (long?)null;
                wireBefore = reached.WireBodyBytes ?? wireBefore;
                var delivered = wireDuring is not 0;
                if (expected is not null && expected.Steps[piece - 1].Delivered != delivered)
                {
                    Assert.Fail(expected.Steps[piece - 1].Delivered
                        ? $"{style.Name}: piece {piece}: Kestrel sent it before the app's next step ({expected.Steps[piece - 1].WireDuring} body bytes to its transport), but the Lambda path held it back (no body bytes committed).\nKestrel: {expected.Timeline}"
                        : $"{style.Name}: piece {piece}: Kestrel held it back until the app's next step (no body bytes reached its transport), but the Lambda path sent {wireDuring} body bytes.\nKestrel: {expected.Timeline}");
                }

                long? arrived = null;
                if (delivered)
                {
                    try
                    {
                        arrived = await recorder.WaitForAsync(StepScript.Piece(piece), DifferentialApp.Patience);
                    }
                    catch (TimeoutException timeout)
                    {
                        Assert.Fail(expected is null
                            ? $"{style.Name}: on Kestrel, piece {piece} did not reach the client before the app's next step ({timeout.Message}). " +
                              "If Kestrel holds this style back, its step must come right after the write so the wire probe can tell."
                            : $"{style.Name}: piece {piece} reached the client {Milliseconds(expected.Steps[piece - 1])} the app's step on Kestrel; " +
                              $"through the Function URL it had not ({timeout.Message}). Received so far: '{Tail(recorder.Decoded)}'.\nKestrel: {expected.Timeline}\nLambda:  {new Run(steps).Timeline}");
                    }
                }

                steps.Add(new Step(piece, delivered, wireDuring, reached.Timestamp, arrived));
                script.Release(piece);
            }

            await recorder.Completion.WaitAsync(DifferentialApp.Patience);
        }
        finally
        {
            script.ReleaseAll();
        }

        var response = recorder.Response;
        var headers = string.Join("; ", response.Headers.Concat(response.Content.Headers)
            .Where(header => !FramingHeaders.Contains(header.Key, StringComparer.OrdinalIgnoreCase))
            .Select(header => $"{header.Key.ToLowerInvariant()}: {string.Join(", ", header.Value)}")
            .Order(StringComparer.Ordinal));
        return new Run(steps) { Status = (int)response.StatusCode, Headers = headers, Body = recorder.RawBody, Decoded = recorder.Decoded };
    }

    private static string Tail(string text) => text.Length <= 300 ? text : "…" + text[^300..];

    /// <summary>When the piece arrived, against when the app reached the step after it (a piece may arrive while the app is still on its way to the step).</summary>
    private static string Milliseconds(Step step)
    {
        if (step.Arrived is not { } arrived)
        {
            return "never";
        }

        var milliseconds = (arrived - step.Reached) * 1000.0 / Stopwatch.Frequency;
        return $"{Math.Abs(milliseconds).ToString("F1", CultureInfo.InvariantCulture)} ms {(milliseconds < 0 ? "before" : "after")}";
    }

    private sealed record Style(string Name, string Path, bool StepAfterWrite = true, string? AcceptEncoding = null);

    /// <summary>One step: whether the piece before it was delivered first, the wire probe's count for it, when the app reached the step and when the piece arrived.</summary>
    private sealed record Step(int Piece, bool Delivered, long? WireDuring, long Reached, long? Arrived);

    private sealed record Run(IReadOnlyList<Step> Steps)
    {
        public int Status { get; init; }

        public string Headers { get; init; } = "";

        public byte[] Body { get; init; } = [];

        public string Decoded { get; init; } = "";

        public string Timeline
        {
            get
            {
                var text = new StringBuilder();
                foreach (var step in Steps)
                {
                    text.Append(CultureInfo.InvariantCulture, $"piece {step.Piece}: ");
                    text.Append(step.Delivered ? $"arrived {Milliseconds(step)} the step" : "held back (nothing on the wire)");
                    text.Append(step.WireDuring is { } wire ? $" ({wire} body bytes on the wire); " : "; ");
                }

                return text.ToString();
            }
        }
    }
}
