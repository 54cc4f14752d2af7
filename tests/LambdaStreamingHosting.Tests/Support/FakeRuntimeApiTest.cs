using Microsoft.AspNetCore.Builder;

namespace LambdaStreamingHosting.Tests.Support;

/// <summary>
/// Base of the tests that run an app against a <see cref="FakeRuntimeApi"/>: owns the fake and the app a test started,
/// and stops both after the test.
/// </summary>
public abstract class FakeRuntimeApiTest : IAsyncLifetime
{
    /// <summary>The loopback Runtime API the test's app polls.</summary>
    protected FakeRuntimeApi Api { get; } = new();

    /// <summary>The app the test started (with <see cref="TestApp"/>), stopped and disposed after the test.</summary>
    protected WebApplication? App { get; set; }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }

        await Api.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
