using LambdaStreamingHosting;
using SampleApp;

// An ordinary ASP.NET Core app with the one line that makes it a streaming Lambda function.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddLambdaStreaming();
builder.Services.AddSingleton<ITicks, DelayTicks>();

var app = builder.Build();

app.MapGet("/hello", () => "Hello from Lambda");

// Writes one line per tick, flushing each, so the client sees them as they are produced.
app.MapGet("/ticks", async (HttpContext context, ITicks ticks, int count) =>
{
    context.Response.ContentType = "text/plain";
    for (var i = 1; i <= count; i++)
    {
        await ticks.NextAsync(context.RequestAborted);
        await context.Response.WriteAsync($"tick {i}\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
});

app.MapGet("/cookies", (HttpContext context) =>
{
    context.Response.Cookies.Append("session", "abc", new CookieOptions { HttpOnly = true, Path = "/" });
    context.Response.Cookies.Append("theme", "dark");
    return Results.Text("two cookies");
});

// Fails after the response started: the client must see a cut connection, not a clean end.
app.MapGet("/fail-midway", async (HttpContext context) =>
{
    await context.Response.WriteAsync("partial ", context.RequestAborted);
    await context.Response.Body.FlushAsync(context.RequestAborted);
    throw new InvalidOperationException("failed after streaming started");
});

app.MapPost("/echo", async (HttpContext context) =>
{
    context.Response.ContentType = context.Request.ContentType ?? "application/octet-stream";
    await context.Request.Body.CopyToAsync(context.Response.Body, context.RequestAborted);
});

app.MapGet("/status/{code:int}", (int code) => Results.StatusCode(code));

app.Run();

/// <summary>The app's entry point, visible to tests.</summary>
public partial class Program;
