using System.Globalization;
using System.Text;
using LambdaStreamingHosting.Server;
using LambdaStreamingHosting.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Tests.Events;

/// <summary>
/// An emulator (Runtime API and Function URL, REST, HTTP API and ALB front doors on loopback) and a real ASP.NET Core
/// app served by the Lambda server against it. The app's endpoints echo what the request mapping produced.
/// </summary>
internal sealed class EndToEndHost : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private EndToEndHost(LambdaEmulator emulator, WebApplication app)
    {
        Emulator = emulator;
        App = app;
    }

    public LambdaEmulator Emulator { get; }

    public WebApplication App { get; }

    /// <summary>Completed by a test to let <c>/stream</c> write its second chunk.</summary>
    public TaskCompletionSource SecondChunk { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<EndToEndHost> StartAsync(LambdaEmulatorOptions emulatorOptions, Action<LambdaStreamingOptions> configure)
    {
        var emulator = await LambdaEmulator.StartAsync(emulatorOptions).WaitAsync(Patience);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddLambdaStreaming(configure);
        builder.Services.AddLambdaServer(new LambdaServerSettings { RuntimeApiEndpoint = emulator.RuntimeApiEndpoint, EndpointOverridesOptions = true });
        var app = builder.Build();
        var host = new EndToEndHost(emulator, app);
        host.Map(app);
        await app.StartAsync().WaitAsync(Patience);
        return host;
    }

    public static HttpClient Client(Uri baseAddress) =>
        new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = baseAddress, Timeout = Patience };

    /// <summary>Parses the <c>key=value</c> lines <c>/echo</c> answers.</summary>
    public static Dictionary<string, string> ParseEcho(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .ToDictionary(parts => parts[0], parts => parts.Length > 1 ? parts[1] : "");

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync().WaitAsync(Patience);
        await App.DisposeAsync();
        await Emulator.DisposeAsync();
    }

    private void Map(WebApplication app)
    {
        app.Map("/echo/{**rest}", async context =>
        {
            var request = context.Request;
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            var user = context.User.Identity is { IsAuthenticated: true } identity ? identity.AuthenticationType + ":" + identity.Name : "";
            var lines = new StringBuilder()
                .Append("source=").Append(context.GetLambdaInvocation()?.EventSource).Append('\n')
                .Append("method=").Append(request.Method).Append('\n')
                .Append("pathBase=").Append(request.PathBase.Value).Append('\n')
                .Append("path=").Append(request.Path.Value).Append('\n')
                .Append("query=").Append(request.QueryString.Value).Append('\n')
                .Append("x=").Append(string.Join('|', request.Query["x"].ToArray())).Append('\n')
                .Append("cookie=").Append(request.Headers.Cookie.ToString()).Append('\n')
                .Append("c2=").Append(request.Cookies["c2"]).Append('\n')
                .Append("host=").Append(request.Host.Value).Append('\n')
                .Append("scheme=").Append(request.Scheme).Append('\n')
                .Append("remoteIp=").Append(context.Connection.RemoteIpAddress).Append('\n')
                .Append("bodyLength=").Append(body.Length.ToString(CultureInfo.InvariantCulture)).Append('\n')
                .Append("body=").Append(Encoding.UTF8.GetString(body.ToArray())).Append('\n')
                .Append("user=").Append(user).Append('\n');
            context.Response.StatusCode = int.TryParse(request.Query["status"], out var status) ? status : 200;
            context.Response.Cookies.Append("a", "1");
            context.Response.Cookies.Append("b", "2", new CookieOptions { Path = "/", HttpOnly = true });
            context.Response.Headers.Append("X-Multi", new(["one", "two"]));
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync(lines.ToString());
        });

        app.MapPost("/binary", async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            context.Response.ContentType = "application/octet-stream";
            context.Response.Cookies.Append("a", "1");
            context.Response.Cookies.Append("b", "2");
            await context.Response.Body.WriteAsync(body.ToArray());
        });

        app.MapGet("/big", async context =>
        {
            var size = int.Parse(context.Request.Query["n"]!, CultureInfo.InvariantCulture);
            context.Response.ContentType = "application/octet-stream";
            var chunk = new byte[64 * 1024];
            for (var sent = 0; sent < size; sent += chunk.Length)
            {
                await context.Response.Body.WriteAsync(chunk.AsMemory(0, Math.Min(chunk.Length, size - sent)));
            }
        });

        app.MapGet("/stream", async context =>
        {
            context.Response.ContentType = "text/plain";
            context.Response.Cookies.Append("a", "1");
            context.Response.Cookies.Append("b", "2");
            await context.Response.WriteAsync("first;");
            await context.Response.Body.FlushAsync();
            await SecondChunk.Task.WaitAsync(Patience);
            await context.Response.WriteAsync("second");
        });
    }
}
