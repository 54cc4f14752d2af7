using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// How many socket sends one answer takes, for the shapes that matter: a small complete answer, one without
/// <c>Content-Length</c>, 1,024 tiny writes without a flush, 1,024 tiny <c>GetMemory</c>/<c>Advance</c> without a flush,
/// and a 100 MB stream of 64 KiB writes. The app runs in this process under the Lambda server behind the emulator's
/// streaming Function URL (a reader that keeps up, as Lambda's Runtime API on the same host); the server counts its
/// own sends on the Runtime API connection. For comparison the same app on Kestrel, where a connection middleware
/// counts the flushes Kestrel makes to its transport (its socket loop may join flushes that come while it is busy, so
/// Kestrel's sends are at most that). Run with <c>--sends</c>; prints a Markdown table.
/// </summary>
internal static class SendsProfile
{
    private const int TinyWrites = 1024;
    private const int StreamMegabytes = 100;
    private static readonly byte[] Tiny = "0123456789abcdef"u8.ToArray();
    private static readonly byte[] Block = new byte[64 * 1024];

    private static readonly (string Name, string Path, int Answers)[] Scenarios =
    [
        ("Small answer with Content-Length (`TypedResults.Text`)", "/small", 200),
        ("Small answer without Content-Length (`Response.WriteAsync`)", "/small-without-length", 200),
        ("1,024 tiny `Response.Body` writes, no flush", "/tiny-writes", 20),
        ("1,024 tiny `GetMemory`/`Advance`, no flush", "/tiny-advances", 20),
        ($"{StreamMegabytes} MB stream, 64 KiB `Response.Body` writes", "/stream", 3),
    ];

    public static async Task RunAsync()
    {
        var lambdaSends = new ConcurrentQueue<long>();
        var kestrelFlushes = new ConcurrentQueue<long>();
        await using var emulator = await LambdaEmulator.StartAsync();
        var lambda = await StartAsync(builder =>
        {
            builder.Services.AddLambdaStreaming();
            builder.Services.AddLambdaServer(emulator.RuntimeApiEndpoint);
        }, context => context.Features.Get<IHttpResponseBodyFeature>() is StreamingResponseBodyFeature body ? () => body.SendCount : null, lambdaSends);
        var kestrel = await StartAsync(builder => builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Use(next => connection =>
        {
            var counter = new FlushCounter(connection.Transport);
            connection.Transport = counter;
            connection.Items[typeof(FlushCounter)] = counter;
            return next(connection);
        }))), context => context.Features.Get<IConnectionItemsFeature>()?.Items[typeof(FlushCounter)] is FlushCounter counter ? counter.Mark() : null, kestrelFlushes);

        var kestrelAddress = new Uri(kestrel.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single());
        using var client = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        Console.WriteLine("| Answer | Lambda streaming: sends per answer, median (min–max) | Kestrel: flushes to its transport per answer, median |");
        Console.WriteLine("|---|---:|---:|");
        try
        {
            foreach (var (name, path, answers) in Scenarios)
            {
                var viaLambda = await MeasureAsync(client, new Uri(emulator.FunctionUrl, path), answers, lambdaSends);
                var viaKestrel = await MeasureAsync(client, new Uri(kestrelAddress, path), answers, kestrelFlushes);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {Median(viaLambda)} ({viaLambda.Min()}–{viaLambda.Max()}) | {Median(viaKestrel)} |"));
            }
        }
        finally
        {
            await lambda.StopAsync();
            await kestrel.StopAsync();
        }
    }

    private static async Task<List<long>> MeasureAsync(HttpClient client, Uri uri, int answers, ConcurrentQueue<long> counts)
    {
        var buffer = new byte[256 * 1024];
        for (var i = 0; i < 3 + answers; i++)
        {
            using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync();
            while (await body.ReadAsync(buffer) > 0)
            {
            }
        }

        // Each answer's count arrives once its invocation (or request) completed; the first three warmed up.
        var all = new List<long>();
        while (all.Count < 3 + answers)
        {
            if (counts.TryDequeue(out var count))
            {
                all.Add(count);
            }
            else
            {
                await Task.Yield();
            }
        }

        return all.Skip(3).ToList();
    }

    private static long Median(List<long> values) => values.Order().ElementAt(values.Count / 2);

    private static async Task<WebApplication> StartAsync(Action<WebApplicationBuilder> configure, Func<HttpContext, Func<long>?> counter, ConcurrentQueue<long> counts)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        configure(builder);
        var app = builder.Build();
        app.Use((context, next) =>
        {
            if (counter(context) is { } count)
            {
                context.Response.OnCompleted(() =>
                {
                    counts.Enqueue(count());
                    return Task.CompletedTask;
                });
            }

            return next(context);
        });
        app.MapGet("/small", () => TypedResults.Text("Hello, World!"));
        app.MapGet("/small-without-length", context => context.Response.WriteAsync("Hello, World!"));
        app.MapGet("/tiny-writes", async context =>
        {
            for (var i = 0; i < TinyWrites; i++)
            {
                await context.Response.Body.WriteAsync(Tiny);
            }
        });
        app.MapGet("/tiny-advances", context =>
        {
            for (var i = 0; i < TinyWrites; i++)
            {
                context.Response.BodyWriter.Write(Tiny);
            }

            return Task.CompletedTask;
        });
        app.MapGet("/stream", async context =>
        {
            for (var i = 0; i < StreamMegabytes * 16; i++)
            {
                await context.Response.Body.WriteAsync(Block);
            }
        });
        await app.StartAsync();
        return app;
    }

    /// <summary>Counts the flushes a Kestrel connection makes to its transport.</summary>
    private sealed class FlushCounter(IDuplexPipe inner) : IDuplexPipe
    {
        private readonly CountingWriter _output = new(inner.Output);

        public PipeReader Input => inner.Input;

        public PipeWriter Output => _output;

        /// <summary>A counter of the flushes from now on (one request's).</summary>
        public Func<long> Mark()
        {
            var start = _output.Flushes;
            return () => _output.Flushes - start;
        }

        private sealed class CountingWriter(PipeWriter inner) : PipeWriter
        {
            private long _unflushed;
            private long _flushes;

            public long Flushes => Interlocked.Read(ref _flushes);

            public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

            public override long UnflushedBytes => inner.UnflushedBytes;

            public override void Advance(int bytes)
            {
                _unflushed += bytes;
                inner.Advance(bytes);
            }

            public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

            public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

            public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
            {
                if (_unflushed > 0)
                {
                    _unflushed = 0;
                    Interlocked.Increment(ref _flushes);
                }

                return inner.FlushAsync(cancellationToken);
            }

            public override void CancelPendingFlush() => inner.CancelPendingFlush();

            public override void Complete(Exception? exception = null) => inner.Complete(exception);

            public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
        }
    }
}
