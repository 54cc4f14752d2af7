using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace StreamingApi.Streaming;

/// <summary>The endpoints that show what streaming is for. They all run under Native AOT too.</summary>
public static class StreamingExamples
{
    /// <summary>The largest <c>/download</c>: Lambda streams at most 200 MB per response.</summary>
    public const int MaxDownloadMegabytes = 200;

    private const int MaxFeedCount = 10_000;
    private const int MaxFeedIntervalMilliseconds = 10_000;
    private const string VisitsCookie = "visits";
    private const string LastVisitCookie = "last-visit";

    /// <summary>Registers the services behind the endpoints: the simulated token generator.</summary>
    public static IServiceCollection AddStreamingExamples(this IServiceCollection services, IConfiguration configuration)
    {
        var delay = TimeSpan.FromMilliseconds(configuration.GetValue("Tokens:DelayMilliseconds", 40));
        services.AddSingleton<ITokenGenerator>(new SimulatedTokenGenerator(delay));
        return services;
    }

    /// <summary>Maps <c>/</c>, <c>/request-url</c>, <c>/tokens</c>, <c>/download</c>, <c>/feed</c> and <c>/cookies</c>.</summary>
    public static IEndpointRouteBuilder MapStreamingExamples(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/", () => TypedResults.Text(
            """
            StreamingApi: ASP.NET Core streaming through AWS Lambda Function URLs.
              GET  /tokens?prompt=...   server-sent events, one token at a time (the LLM use case)
              GET  /download?mb=100     a large generated download, streamed in 64 KiB chunks
              GET  /feed?count=10       an IAsyncEnumerable<T> JSON array, one item at a time
              GET  /cookies             counts your visits with cookies
              GET  /report              a Razor component page with [StreamRendering]
              GET  /notes, POST /notes  EF Core (PostgreSQL when configured, SQLite otherwise)
              GET  /db/backend-pid      the PostgreSQL backend behind the pooled DbContext
              GET  /notebook            a page that posts notes (with x-amz-content-sha256, as CloudFront needs)
              GET  /request-url         the URL the app sees (behind CloudFront: the viewer's host)
            """));

        // What the app believes it was called at: scheme, host, path base and path.
        endpoints.MapGet("/request-url", (HttpContext context) => TypedResults.Text(context.Request.GetDisplayUrl()));

        endpoints.MapGet("/tokens", (ITokenGenerator generator, CancellationToken cancellationToken, string? prompt) =>
            TypedResults.ServerSentEvents(TokenEventsAsync(generator, prompt ?? "Why stream?", cancellationToken)));

        endpoints.MapGet("/download", Results<PushStreamHttpResult, ProblemHttpResult> (HttpContext context, int? mb) =>
            mb is null or < 1 or > MaxDownloadMegabytes
                ? TypedResults.Problem($"Query parameter mb must be an integer from 1 to {MaxDownloadMegabytes}.", statusCode: StatusCodes.Status400BadRequest)
                : TypedResults.Stream(
                    (stream) => GeneratedPayload.WriteAsync(stream, mb.Value * 1024L * 1024L, context.RequestAborted),
                    "application/octet-stream",
                    $"payload-{mb.Value}mb.bin"));

        endpoints.MapGet("/feed", Results<Ok<IAsyncEnumerable<FeedItem>>, ProblemHttpResult> (CancellationToken cancellationToken, int count = 10, int intervalMs = 100) =>
            count is < 1 or > MaxFeedCount || intervalMs is < 0 or > MaxFeedIntervalMilliseconds
                ? TypedResults.Problem($"count must be 1 to {MaxFeedCount} and intervalMs 0 to {MaxFeedIntervalMilliseconds}.", statusCode: StatusCodes.Status400BadRequest)
                : TypedResults.Ok(FeedAsync(count, TimeSpan.FromMilliseconds(intervalMs), cancellationToken)));

        endpoints.MapGet("/cookies", (HttpContext context) =>
        {
            var visits = int.TryParse(context.Request.Cookies[VisitsCookie], CultureInfo.InvariantCulture, out var previous) ? previous + 1 : 1;
            var options = new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Lax, Secure = context.Request.IsHttps, Path = "/" };
            context.Response.Cookies.Append(VisitsCookie, visits.ToString(CultureInfo.InvariantCulture), options);
            context.Response.Cookies.Append(LastVisitCookie, DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), options);
            return TypedResults.Ok(new VisitReport(visits, [.. context.Request.Cookies.Keys.Order(StringComparer.Ordinal)]));
        });

        return endpoints;
    }

    private static async IAsyncEnumerable<SseItem<string>> TokenEventsAsync(
        ITokenGenerator generator, string prompt, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var id = 0;
        await foreach (var token in generator.GenerateAsync(prompt, cancellationToken))
        {
            yield return new SseItem<string>(token, "token") { EventId = (++id).ToString(CultureInfo.InvariantCulture) };
        }

        yield return new SseItem<string>("[DONE]", "done");
    }

    private static async IAsyncEnumerable<FeedItem> FeedAsync(int count, TimeSpan interval, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var sequence = 1; sequence <= count; sequence++)
        {
            if (sequence > 1)
            {
                await Task.Delay(interval, cancellationToken);
            }

            yield return new FeedItem(sequence, DateTimeOffset.UtcNow, $"Item {sequence} of {count}");
        }
    }
}
