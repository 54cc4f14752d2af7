using LambdaStreamingHosting.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using StreamingApi.Components;
using StreamingApi.Streaming;

namespace StreamingApi.Tests;

/// <summary>
/// The example app behind the Lambda emulator's Function URL (RESPONSE_STREAM), with its slow parts replaced by gates
/// the tests open, and its own SQLite file.
/// </summary>
public class StreamingApiFactory : LambdaApplicationFactory<Program>
{
    private readonly string _databasePath = Path.Combine(Path.GetTempPath(), $"streamingapi-tests-{Guid.NewGuid():N}.db");

    /// <summary>The token generator behind <c>/tokens</c>: yields what the test writes.</summary>
    public GatedTokenGenerator Tokens { get; } = new();

    /// <summary>The data behind <c>/report</c>: ready when the test says so.</summary>
    public GatedReportSource Report { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("ConnectionStrings:Sqlite", $"Data Source={_databasePath};Pooling=False");
        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<ITokenGenerator>(Tokens);
            services.AddSingleton<IReportSource>(Report);
        });
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(_databasePath);
        GC.SuppressFinalize(this);
    }
}
