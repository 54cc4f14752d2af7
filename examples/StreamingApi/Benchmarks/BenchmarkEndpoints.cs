using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace StreamingApi.Benchmarks;

/// <summary>
/// Endpoints for the end-to-end benchmark (bench/EndToEnd), mapped only when the configuration value
/// <c>Benchmarks:Enabled</c> is <c>true</c> (environment variable <c>Benchmarks__Enabled=true</c>).
/// </summary>
public static class BenchmarkEndpoints
{
    private const int MaxLines = 100;
    private const int MaxWaitMilliseconds = 10_000;

    /// <summary>
    /// Maps <c>GET /bench/flush-then-wait?lines=3&amp;waitMs=50</c>: writes <c>lines</c> lines, each holding the
    /// <see cref="Stopwatch.GetTimestamp"/> taken just before it was written and flushed, waiting <c>waitMs</c> after
    /// each. On Linux the timestamp is <c>CLOCK_MONOTONIC</c>, the same clock in every process, so a client on the same
    /// machine can tell how long each flushed line took to reach it. With <c>flush=false</c> each line is one
    /// <c>Response.Body.WriteAsync</c> and nothing is flushed (what <c>Results.Stream</c> and <c>CopyToAsync</c> do).
    /// </summary>
    public static WebApplication MapBenchmarkEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (!string.Equals(app.Configuration["Benchmarks:Enabled"], "true", StringComparison.OrdinalIgnoreCase))
        {
            return app;
        }

        app.MapGet("/bench/flush-then-wait", async context =>
        {
            var lines = QueryInt(context, "lines", 3, MaxLines);
            var wait = TimeSpan.FromMilliseconds(QueryInt(context, "waitMs", 50, MaxWaitMilliseconds));
            var flush = !string.Equals(context.Request.Query["flush"], "false", StringComparison.OrdinalIgnoreCase);
            context.Response.ContentType = "text/plain; charset=utf-8";
            for (var line = 0; line < lines; line++)
            {
                var stamp = Stopwatch.GetTimestamp();
                var text = Encoding.ASCII.GetBytes(stamp.ToString(CultureInfo.InvariantCulture) + "\n");
                await context.Response.Body.WriteAsync(text, context.RequestAborted);
                if (flush)
                {
                    await context.Response.Body.FlushAsync(context.RequestAborted);
                }

                await Task.Delay(wait, context.RequestAborted);
            }
        });

        return app;
    }

    private static int QueryInt(HttpContext context, string name, int fallback, int max) =>
        int.TryParse(context.Request.Query[name], NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= max ? value : fallback;
}
