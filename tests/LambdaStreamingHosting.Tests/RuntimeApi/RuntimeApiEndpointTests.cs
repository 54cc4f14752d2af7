using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Tests.RuntimeApi;

public class RuntimeApiEndpointTests
{
    [Theory]
    [InlineData("127.0.0.1:9001", "127.0.0.1", 9001, "", "127.0.0.1:9001")]
    [InlineData("localhost:9001", "localhost", 9001, "", "localhost:9001")]
    [InlineData("127.0.0.1:5050/fn", "127.0.0.1", 5050, "/fn", "127.0.0.1:5050")]
    [InlineData("127.0.0.1:5050/a/b/", "127.0.0.1", 5050, "/a/b", "127.0.0.1:5050")]
    [InlineData("127.0.0.1:9001/2018-06-01", "127.0.0.1", 9001, "", "127.0.0.1:9001")]
    [InlineData("http://127.0.0.1:9001", "127.0.0.1", 9001, "", "127.0.0.1:9001")]
    [InlineData("[::1]:9001", "::1", 9001, "", "[::1]:9001")]
    [InlineData(" runtime ", "runtime", 80, "", "runtime")]
    public void Accepts_host_port_and_an_optional_path(string value, string host, int port, string prefix, string hostHeader)
    {
        var endpoint = RuntimeApiEndpoint.Parse(value);

        Assert.Equal(host, endpoint.Host);
        Assert.Equal(port, endpoint.Port);
        Assert.Equal(prefix, endpoint.PathPrefix);
        Assert.Equal(hostHeader, endpoint.HostHeader);
        Assert.Equal(prefix + "/2018-06-01/runtime/invocation/next", endpoint.Target("runtime/invocation/next"));
    }

    [Theory]
    [InlineData(null, "empty")]
    [InlineData("", "empty")]
    [InlineData("127.0.0.1:notaport", "invalid port")]
    [InlineData("127.0.0.1:70000", "invalid port")]
    [InlineData(":9001", "no valid host")]
    [InlineData("[::1:9001", "malformed IPv6")]
    [InlineData("127.0.0.1:9001/a b", "path")]
    [InlineData("127.0.0.1:9001/a?b", "path")]
    public void Rejects_what_cannot_be_an_endpoint_with_a_clear_message(string? value, string expected)
    {
        Assert.False(RuntimeApiEndpoint.TryParse(value, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains(expected, Assert.Throws<FormatException>(() => RuntimeApiEndpoint.Parse(value)).Message, StringComparison.Ordinal);
    }
}
