using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// The live timeline page on the Function URL port (<see cref="LambdaEmulatorOptions.TimelinePath"/>): one self-contained
/// HTML document (inline script and style, system fonts, nothing fetched from elsewhere) that lists invocations as they
/// happen, fed by server-sent events from the emulator's <see cref="InvocationFeed"/> at <c>{path}events</c>.
/// </summary>
internal sealed class TimelinePage(string path, int port, InvocationFeed feed, string door)
{
    private static readonly (byte[] Html, string ContentSecurityPolicy) Page = LoadPage();
    private readonly string _eventsPath = path + "events";

    /// <summary>The Function URL port the page is served on.</summary>
    public int Port { get; } = port;

    /// <summary>Whether the request is for the page (its path, with or without the final slash, or anything under it).</summary>
    public bool Serves(PathString requestPath) =>
        requestPath.Value is { } value &&
        (value.StartsWith(path, StringComparison.Ordinal) || value == path[..^1]);

    public Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            return Task.CompletedTask;
        }

        var value = request.Path.Value!;
        if (value == path[..^1])
        {
            response.StatusCode = StatusCodes.Status308PermanentRedirect;
            response.Headers.Location = path;
            return Task.CompletedTask;
        }

        if (value == path)
        {
            response.ContentType = "text/html; charset=utf-8";
            response.ContentLength = Page.Html.Length;
            response.Headers.CacheControl = "no-store";
            response.Headers.ContentSecurityPolicy = Page.ContentSecurityPolicy;
            response.Headers.XContentTypeOptions = "nosniff";
            response.Headers["Referrer-Policy"] = "no-referrer";
            return HttpMethods.IsHead(request.Method) ? Task.CompletedTask : response.Body.WriteAsync(Page.Html, context.RequestAborted).AsTask();
        }

        if (value == _eventsPath)
        {
            return StreamEventsAsync(context);
        }

        response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Server-sent events: a reset, the kept events, then each new one. A browser that cannot keep up is dropped (an
    /// overflow event, then the end of the stream; it reconnects and starts again from a reset), so the emulator never
    /// waits for it.
    /// </summary>
    private async Task StreamEventsAsync(HttpContext context)
    {
        var response = context.Response;
        using var subscription = feed.Subscribe();
        if (subscription is null)
        {
            response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync($"The emulator is stopping, or {InvocationFeed.MaxSubscribers} timeline pages are open already.", context.RequestAborted);
            return;
        }

        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        response.Headers.XContentTypeOptions = "nosniff";
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        var output = response.BodyWriter;
        using var json = new Utf8JsonWriter(output);
        var aborted = context.RequestAborted;
        try
        {
            // The browser reconnects half a second after the stream ends (an overflow).
            output.Write("retry: 500\n\n"u8);
            WriteEvent(output, json, writer =>
            {
                writer.WriteString("type", "reset");
                writer.WriteString("door", door);
            });
            foreach (var kept in subscription.Kept)
            {
                WriteEvent(output, json, writer => WriteFields(writer, kept));
            }

            if (!await FlushAsync(output, aborted))
            {
                return;
            }

            var events = subscription.Events;
            while (await events.WaitToReadAsync(aborted))
            {
                // What is at hand goes out in one flush.
                while (events.TryRead(out var feedEvent))
                {
                    WriteEvent(output, json, writer => WriteFields(writer, feedEvent));
                }

                if (!await FlushAsync(output, aborted))
                {
                    return;
                }
            }

            if (subscription.Overflowed)
            {
                WriteEvent(output, json, writer => writer.WriteString("type", "overflow"));
                await FlushAsync(output, aborted);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ConnectionResetException or ConnectionAbortedException)
        {
            // The page was closed.
        }
    }

    private static async ValueTask<bool> FlushAsync(PipeWriter output, CancellationToken aborted)
    {
        var result = await output.FlushAsync(aborted);
        return !result.IsCompleted && !result.IsCanceled;
    }

    private static void WriteEvent(PipeWriter output, Utf8JsonWriter json, Action<Utf8JsonWriter> fields)
    {
        // The JSON writer's default encoder escapes control characters and the HTML-sensitive ones, so one event is one
        // "data:" line whatever the strings hold.
        output.Write("data: "u8);
        json.Reset(output);
        json.WriteStartObject();
        fields(json);
        json.WriteEndObject();
        json.Flush();
        output.Write("\n\n"u8);
    }

    private static void WriteFields(Utf8JsonWriter json, InvocationFeedEvent feedEvent)
    {
        switch (feedEvent)
        {
            case InvocationArrived arrived:
                json.WriteString("type", "arrived");
                json.WriteString("id", arrived.RequestId);
                json.WriteString("door", arrived.FrontDoor.ToString());
                json.WriteString("method", arrived.Method);
                json.WriteString("target", arrived.Target);
                json.WriteNumber("startedAt", arrived.StartedAt.ToUnixTimeMilliseconds());
                return;
            case InvocationDelivered delivered:
                Common(json, "delivered", delivered);
                json.WriteString("start", delivered.Start switch
                {
                    InvocationStart.Cold => "cold",
                    InvocationStart.Restored => "restored",
                    InvocationStart.Thawed => "thawed",
                    _ => "warm",
                });
                return;
            case ChunkSent chunk:
                Common(json, "chunk", chunk);
                json.WriteNumber("bytes", chunk.Bytes);
                json.WriteNumber("status", chunk.StatusCode);
                return;
            case ViolationSeen violation:
                Common(json, "violation", violation);
                json.WriteString("message", violation.Message);
                return;
            case InvocationEnded ended:
                var record = ended.Record;
                Common(json, "ended", ended);
                json.WriteNumber("status", record.StatusCode);
                json.WriteNumber("bytes", record.ResponseBytes);
                json.WriteNumber("chunks", ended.Chunks);
                json.WriteBoolean("streamed", record.Streamed);
                if (record.TimeToFirstByte is { } ttfb)
                {
                    json.WriteNumber("ttfb", Math.Round(ttfb.TotalMilliseconds, 3));
                }
                else
                {
                    json.WriteNull("ttfb");
                }

                json.WriteString("errorType", record.ErrorType);
                json.WriteString("errorMessage", record.ErrorMessage);
                json.WriteBoolean("clientDisconnected", record.ClientDisconnected);
                return;
        }
    }

    private static void Common(Utf8JsonWriter json, string type, InvocationFeedEvent feedEvent)
    {
        json.WriteString("type", type);
        json.WriteString("id", feedEvent.RequestId);
        json.WriteNumber("at", Math.Round(feedEvent.At.TotalMilliseconds, 3));
    }

    /// <summary>
    /// The page, and a content security policy that allows exactly its inline script and style (by hash), connections
    /// to its own origin (the event stream), and nothing else.
    /// </summary>
    private static (byte[] Html, string ContentSecurityPolicy) LoadPage()
    {
        using var stream = typeof(TimelinePage).Assembly.GetManifestResourceStream("LambdaStreamingHosting.Testing.TimelinePage.html")
            ?? throw new InvalidOperationException("The timeline page is missing from the assembly's resources.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var html = reader.ReadToEnd();
        var contentSecurityPolicy =
            $"default-src 'none'; script-src '{Hash(html, "script")}'; style-src '{Hash(html, "style")}'; connect-src 'self'; " +
            "img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        return (Encoding.UTF8.GetBytes(html), contentSecurityPolicy);
    }

    private static string Hash(string html, string element)
    {
        var start = html.IndexOf($"<{element}>", StringComparison.Ordinal) + element.Length + 2;
        var end = html.IndexOf($"</{element}>", start, StringComparison.Ordinal);
        return "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(html[start..end])));
    }
}
