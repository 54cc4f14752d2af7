using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LambdaStreamingHosting.Testing;

/// <summary>
/// A <see cref="WebApplicationFactory{TEntryPoint}"/> that boots the app's unchanged <c>Program</c> in Lambda mode
/// against an in-process <see cref="LambdaEmulator"/>. <see cref="WebApplicationFactory{TEntryPoint}.CreateClient()"/>
/// returns an <see cref="HttpClient"/> whose requests go through the emulator's Function URL front door, so a test sees
/// what a caller of the deployed function sees: streamed chunks as they are written (use
/// <see cref="HttpCompletionOption.ResponseHeadersRead"/>), one <c>Set-Cookie</c> per cookie, a cut connection when the
/// app fails mid-stream. <c>ConfigureWebHost</c> overrides and <see cref="WithWebHostBuilder"/> keep working.
/// </summary>
/// <typeparam name="TEntryPoint">A type in the app's entry point assembly, usually <c>Program</c>.</typeparam>
public class LambdaApplicationFactory<TEntryPoint> : WebApplicationFactory<TEntryPoint>
    where TEntryPoint : class
{
    private readonly LambdaApplicationFactory<TEntryPoint>? _parent;
    private readonly Action<IWebHostBuilder>? _configuration;
    private readonly List<LambdaApplicationFactory<TEntryPoint>> _children = [];
    private LambdaEmulator? _emulator;

    /// <summary>Creates a factory; set <see cref="EmulatorOptions"/> before the first client or service is asked for.</summary>
    public LambdaApplicationFactory()
    {
        UseKestrel(); // not TestServer: the Lambda server takes the server's place
    }

    private LambdaApplicationFactory(LambdaApplicationFactory<TEntryPoint> parent, Action<IWebHostBuilder> configuration) : this()
    {
        _parent = parent;
        _configuration = configuration;
        EmulatorOptions = parent.EmulatorOptions.Clone();
    }

    /// <summary>
    /// Settings of the emulator the app runs against (invoke mode, timeout, limits, strict mode…). The app's
    /// <c>LambdaStreaming:InvokeMode</c> configuration is set to match <see cref="LambdaEmulatorOptions.InvokeMode"/>.
    /// Change them before the factory starts.
    /// </summary>
    public LambdaEmulatorOptions EmulatorOptions { get; private init; } = new();

    /// <summary>The emulator the app runs against (starts the app if it has not started).</summary>
    public LambdaEmulator Emulator
    {
        get
        {
            StartServer();
            return _emulator ?? throw new InvalidOperationException("The emulator did not start.");
        }
    }

    /// <summary>
    /// Creates a factory whose app is further configured by <paramref name="configuration"/>, with its own emulator
    /// (its <see cref="EmulatorOptions"/> start as a copy of this factory's).
    /// </summary>
    /// <param name="configuration">Configures the web host, e.g. to replace services.</param>
    /// <returns>The new factory; disposed with this one.</returns>
    public new LambdaApplicationFactory<TEntryPoint> WithWebHostBuilder(Action<IWebHostBuilder> configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var child = new LambdaApplicationFactory<TEntryPoint>(this, configuration);
        _children.Add(child);
        return child;
    }

    /// <inheritdoc />
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        if (_parent is not null)
        {
            _parent.ConfigureWebHost(builder);
            _configuration!(builder);
        }
    }

    /// <inheritdoc />
    protected override IHost CreateHost(IHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        _emulator = LambdaEmulator.StartAsync(EmulatorOptions).GetAwaiter().GetResult();
        var emulator = _emulator;
        var time = EmulatorOptions.TimeProvider;
        builder.ConfigureAppConfiguration(configuration => configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"{LambdaStreamingOptions.ConfigurationSectionName}:{nameof(LambdaStreamingOptions.InvokeMode)}"] = EmulatorOptions.InvokeMode.ToString(),
        }));
        // The server reads the deadlines the emulator sets on the emulator's clock.
        builder.ConfigureServices(services => services.AddLambdaServer(emulator.RuntimeApiEndpoint, time));
        var host = base.CreateHost(builder);

        // Clients created by the factory call the Function URL, not the Runtime API the server reports.
        var addresses = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        if (addresses is not null)
        {
            addresses.Addresses.Clear();
            addresses.Addresses.Add(emulator.FunctionUrl.ToString());
        }

        ClientOptions.BaseAddress = emulator.FunctionUrl;
        return host;
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        foreach (var child in _children)
        {
            await child.DisposeAsync();
        }

        await base.DisposeAsync();
        if (_emulator is { } emulator)
        {
            _emulator = null;
            await emulator.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && _emulator is { } emulator)
        {
            _emulator = null;
            foreach (var child in _children)
            {
                child.Dispose();
            }

            emulator.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
