using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Rendering;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>
/// One app, run twice: on Kestrel (loopback, port 0) and as a Lambda function behind the emulator's streaming Function
/// URL. Each endpoint writes its pieces in one style; between two pieces the app takes a step that waits for the test
/// (a <see cref="StepScript"/> gate), so what reached the client before the step is observed, not guessed. At each step
/// the app also reads its server's wire probe: the body bytes the server had handed to its transport by then.
/// </summary>
public sealed class DifferentialApp : IAsyncLifetime
{
    /// <summary>Generous bound for every wait; never a sleep.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private const string WireProbeKey = "differential.wire-probe";
    private readonly ConcurrentDictionary<string, StepScript> _scripts = new();
    private readonly string _files = Path.Combine(Path.GetTempPath(), "lsh-differential-" + Guid.NewGuid().ToString("N"));
    private WebApplication? _upstream;
    private WebApplication? _kestrel;
    private WebApplication? _lambda;
    private LambdaEmulator? _emulator;
    private HttpClient? _relayClient;

    /// <summary>The app on Kestrel.</summary>
    public Uri KestrelUrl { get; private set; } = null!;

    /// <summary>The same app behind the emulator's Function URL (RESPONSE_STREAM).</summary>
    public Uri FunctionUrl => _emulator!.FunctionUrl;

    /// <summary>The client every response is read with: no decompression, cookies or redirects of its own.</summary>
    public HttpClient Client { get; } = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None, UseCookies = false, AllowAutoRedirect = false })
    {
        Timeout = Patience,
    };

    public LambdaEmulator Emulator => _emulator!;

    /// <summary>A new script of <paramref name="pieces"/> pieces; the app finds it by the id in its query string.</summary>
    public StepScript NewScript(int pieces)
    {
        var script = new StepScript(pieces);
        _scripts[script.Id] = script;
        return script;
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_files);
        for (var piece = 1; piece <= StepScript.MaxPieces; piece++)
        {
            // Files larger than one read, so SendFileAsync takes several reads and writes for each.
            await File.WriteAllTextAsync(FilePath(piece), new string('.', 40_000) + StepScript.Piece(piece));
        }

        _upstream = await StartKestrelAsync(MapUpstream, recordTransport: false);
        _relayClient = new HttpClient { BaseAddress = Address(_upstream), Timeout = Patience };
        _kestrel = await StartKestrelAsync(Map, recordTransport: true);
        KestrelUrl = Address(_kestrel);

        _emulator = await LambdaEmulator.StartAsync(new LambdaEmulatorOptions()).WaitAsync(Patience);
        var builder = CreateBuilder();
        builder.Services.AddLambdaStreaming();
        builder.Services.AddLambdaServer(_emulator.RuntimeApiEndpoint);
        _lambda = builder.Build();
        Map(_lambda);
        await _lambda.StartAsync().WaitAsync(Patience);
    }

    public async Task DisposeAsync()
    {
        foreach (var script in _scripts.Values)
        {
            script.ReleaseAll();
        }

        Client.Dispose();
        _relayClient?.Dispose();
        foreach (var app in new[] { _lambda, _kestrel, _upstream })
        {
            if (app is not null)
            {
                await app.StopAsync().WaitAsync(Patience);
                await app.DisposeAsync();
            }
        }

        if (_emulator is not null)
        {
            await _emulator.DisposeAsync(); // strict: throws if the function broke the protocol
        }

        Directory.Delete(_files, recursive: true);
    }

    private static WebApplicationBuilder CreateBuilder()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddResponseCompression();
        builder.Services.AddRazorComponents();
        return builder;
    }

    private static async Task<WebApplication> StartKestrelAsync(Action<WebApplication> map, bool recordTransport)
    {
        var builder = CreateBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (recordTransport)
            {
                listen.Use(next => connection =>
                {
                    var recorder = new BodyBytesRecorder(connection.Transport);
                    connection.Transport = recorder;
                    connection.Items[WireProbeKey] = recorder;
                    return next(connection);
                });
            }
        }));
        var app = builder.Build();
        map(app);
        await app.StartAsync().WaitAsync(Patience);
        return app;
    }

    private static Uri Address(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single());

    /// <summary>The server's wire probe for this request: body bytes handed to the transport so far.</summary>
    private static Func<long>? WireProbe(HttpContext context) => context.Items[WireProbeKey] as Func<long>;

    private static byte[] Bytes(int piece) => Encoding.UTF8.GetBytes(StepScript.Piece(piece));

    private string FilePath(int piece) => Path.Combine(_files, $"piece-{piece}.txt");

    private StepScript ScriptOf(HttpContext context) => _scripts[context.Request.Query["script"].ToString()];

    /// <summary>Writes the script's pieces with <paramref name="write"/>, taking a step between two of them.</summary>
    private async Task WritePiecesAsync(HttpContext context, Func<int, Task> write)
    {
        var script = ScriptOf(context);
        for (var piece = 1; piece <= script.Pieces; piece++)
        {
            await write(piece);
            if (piece < script.Pieces)
            {
                await script.StepAsync(piece, WireProbe(context));
            }
        }
    }

    private void Map(WebApplication app)
    {
        // First in the pipeline, before compression wraps the body: the server's own probe.
        app.Use((context, next) =>
        {
            context.Items[WireProbeKey] = context.Features.Get<IHttpResponseBodyFeature>() is StreamingResponseBodyFeature lambda
                ? () => lambda.CommittedBodyBytes
                : context.Features.Get<IConnectionItemsFeature>()?.Items[WireProbeKey] is BodyBytesRecorder kestrel ? () => kestrel.BodyBytes : null;
            return next(context);
        });
        app.UseWhen(context => context.Request.Path.StartsWithSegments("/compressed", StringComparison.Ordinal), branch => branch.UseResponseCompression());

        app.MapGet("/write", context => PlainText(context, piece => context.Response.Body.WriteAsync(Bytes(piece)).AsTask()));
        app.MapGet("/write-string", context => PlainText(context, piece => context.Response.WriteAsync(StepScript.Piece(piece))));
        app.MapGet("/body-writer", context => PlainText(context, async piece => await context.Response.BodyWriter.WriteAsync(Bytes(piece))));
        app.MapGet("/advance-flush", context => PlainText(context, async piece =>
        {
            Advance(context, piece);
            await context.Response.BodyWriter.FlushAsync();
        }));
        app.MapGet("/advance-without-flush", context => PlainText(context, piece =>
        {
            Advance(context, piece);
            return Task.CompletedTask;
        }));
        app.MapGet("/sync-write", context =>
        {
            context.Features.GetRequiredFeature<IHttpBodyControlFeature>().AllowSynchronousIO = true;
            return PlainText(context, piece =>
            {
                context.Response.Body.Write(Bytes(piece));
                return Task.CompletedTask;
            });
        });
        app.MapGet("/results-stream", (HttpContext context) => Results.Stream(new SteppedStream(ScriptOf(context), WireProbe(context)), "text/plain"));
        app.MapGet("/copy-to", async context =>
        {
            context.Response.ContentType = "text/plain";
            await new SteppedStream(ScriptOf(context), WireProbe(context)).CopyToAsync(context.Response.Body);
        });
        app.MapGet("/relay", async (HttpContext context) =>
        {
            // The LLM-proxy pattern: the upstream's pieces are passed on as they come.
            var upstream = await _relayClient!.GetAsync("/upstream" + context.Request.QueryString, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
            context.Response.RegisterForDispose(upstream);
            return Results.Stream(await upstream.Content.ReadAsStreamAsync(context.RequestAborted), upstream.Content.Headers.ContentType?.ToString());
        });
        app.MapGet("/server-sent-events", (HttpContext context) => TypedResults.ServerSentEvents(SteppedItems(ScriptOf(context), WireProbe(context))));
        app.MapGet("/async-enumerable", (HttpContext context) => TypedResults.Ok(SteppedItems(ScriptOf(context), wireProbe: null)));
        app.MapGet("/send-file", context => PlainText(context, piece => context.Response.SendFileAsync(FilePath(piece))));
        app.MapGet("/razor", (HttpContext context) => new RazorComponentResult<SteppedPage>(new { Script = ScriptOf(context) }));
        app.MapGet("/compressed/write", context => PlainText(context, piece => context.Response.Body.WriteAsync(Bytes(piece)).AsTask()));
        app.MapGet("/compressed/write-flush", context => PlainText(context, async piece =>
        {
            await context.Response.Body.WriteAsync(Bytes(piece));
            await context.Response.Body.FlushAsync();
        }));
    }

    private void MapUpstream(WebApplication app) => app.MapGet("/upstream", async context =>
    {
        // A slow upstream (an LLM, say): each piece flushed, then a step the test controls.
        var script = ScriptOf(context);
        context.Response.ContentType = "text/plain; charset=utf-8";
        for (var piece = 1; piece <= script.Pieces; piece++)
        {
            await context.Response.WriteAsync(StepScript.Piece(piece));
            await context.Response.Body.FlushAsync();
            if (piece < script.Pieces)
            {
                await script.StepAsync(piece, wireProbe: null);
            }
        }
    });

    private Task PlainText(HttpContext context, Func<int, Task> write)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        return WritePiecesAsync(context, write);
    }

    private static void Advance(HttpContext context, int piece)
    {
        var bytes = Bytes(piece);
        bytes.CopyTo(context.Response.BodyWriter.GetSpan(bytes.Length));
        context.Response.BodyWriter.Advance(bytes.Length);
    }

    private static async IAsyncEnumerable<string> SteppedItems(StepScript script, Func<long>? wireProbe, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var piece = 1; piece <= script.Pieces; piece++)
        {
            yield return StepScript.Piece(piece);
            if (piece < script.Pieces)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await script.StepAsync(piece, wireProbe);
            }
        }
    }

    /// <summary>Counts the bytes a Kestrel connection flushes to its transport after the first response head.</summary>
    private sealed class BodyBytesRecorder(IDuplexPipe inner) : IDuplexPipe
    {
        private readonly CountingWriter _output = new(inner.Output);

        public PipeReader Input => inner.Input;

        public PipeWriter Output => _output;

        /// <summary>Body bytes (chunk framing included) flushed so far; the head not counted.</summary>
        public long BodyBytes => _output.FlushedBodyBytes;

        private sealed class CountingWriter(PipeWriter inner) : PipeWriter
        {
            private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();
            private Memory<byte> _lent;
            private int _headEndMatched;
            private long _unflushedBodyBytes;
            private long _flushedBodyBytes;

            public long FlushedBodyBytes => Interlocked.Read(ref _flushedBodyBytes);

            public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

            public override long UnflushedBytes => inner.UnflushedBytes;

            public override void Advance(int bytes)
            {
                foreach (var value in _lent.Span[..bytes])
                {
                    if (_headEndMatched == HeadEnd.Length)
                    {
                        _unflushedBodyBytes++;
                    }
                    else
                    {
                        _headEndMatched = value == HeadEnd[_headEndMatched] ? _headEndMatched + 1 : value == HeadEnd[0] ? 1 : 0;
                    }
                }

                inner.Advance(bytes);
            }

            public override Memory<byte> GetMemory(int sizeHint = 0) => _lent = inner.GetMemory(sizeHint);

            public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

            public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
            {
                Interlocked.Add(ref _flushedBodyBytes, _unflushedBodyBytes);
                _unflushedBodyBytes = 0;
                return inner.FlushAsync(cancellationToken);
            }

            public override void CancelPendingFlush() => inner.CancelPendingFlush();

            public override void Complete(Exception? exception = null) => inner.Complete(exception);

            public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
        }
    }

    /// <summary>A stream whose reads give one piece each, the next only after the step between them.</summary>
    private sealed class SteppedStream(StepScript script, Func<long>? wireProbe) : Stream
    {
        private int _reads;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var piece = ++_reads;
            if (piece > script.Pieces)
            {
                return 0;
            }

            if (piece > 1)
            {
                // The copy asks for the next piece once the last one's write returned: the step comes after that write.
                await script.StepAsync(piece - 1, wireProbe);
            }

            var bytes = Bytes(piece);
            bytes.CopyTo(buffer);
            return bytes.Length;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>A page rendered with streaming rendering: one piece in the first render, the others streamed after each step.</summary>
[StreamRendering]
internal sealed class SteppedPage : ComponentBase
{
    private string _text = "";

    [Parameter]
    public StepScript Script { get; set; } = null!;

    protected override async Task OnInitializedAsync()
    {
        for (var piece = 1; piece <= Script.Pieces; piece++)
        {
            _text = StepScript.Piece(piece);
            if (piece > 1)
            {
                StateHasChanged();
            }

            if (piece < Script.Pieces)
            {
                await Script.StepAsync(piece, wireProbe: null);
            }
        }
    }

    protected override void BuildRenderTree(RenderTreeBuilder builder)
    {
        builder.OpenElement(0, "p");
        builder.AddContent(1, _text);
        builder.CloseElement();
    }
}

/// <summary>
/// The steps of one response: between piece <c>k</c> and <c>k + 1</c> the app reports that it reached step <c>k</c>
/// (with its server's wire probe and the time) and waits until the test releases it.
/// </summary>
public sealed class StepScript(int pieces)
{
    public const int MaxPieces = 3;
    private readonly TaskCompletionSource<StepReached>[] _reached = [.. Enumerable.Range(0, pieces).Select(_ => new TaskCompletionSource<StepReached>(TaskCreationOptions.RunContinuationsAsynchronously))];
    private readonly TaskCompletionSource[] _released = [.. Enumerable.Range(0, pieces).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];

    public string Id { get; } = Guid.NewGuid().ToString("N");

    public int Pieces { get; } = pieces;

    /// <summary>The text of piece <paramref name="piece"/>: what the client waits for.</summary>
    public static string Piece(int piece) => $"[piece {piece}]";

    /// <summary>App side: step <paramref name="step"/> is reached (the probe read now); waits for the test.</summary>
    public Task StepAsync(int step, Func<long>? wireProbe)
    {
        _reached[step - 1].TrySetResult(new StepReached(wireProbe?.Invoke(), Stopwatch.GetTimestamp()));
        return _released[step - 1].Task.WaitAsync(DifferentialApp.Patience);
    }

    /// <summary>Test side: completes when the app reached <paramref name="step"/>.</summary>
    public Task<StepReached> ReachedAsync(int step) => _reached[step - 1].Task.WaitAsync(DifferentialApp.Patience);

    /// <summary>Test side: lets the app take step <paramref name="step"/>.</summary>
    public void Release(int step) => _released[step - 1].TrySetResult();

    public void ReleaseAll()
    {
        foreach (var released in _released)
        {
            released.TrySetResult();
        }
    }
}

/// <summary>The app reached a step: its server's body bytes on the wire then (null where the step cannot tell), and when.</summary>
public readonly record struct StepReached(long? WireBodyBytes, long Timestamp);
