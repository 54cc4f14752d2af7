using LambdaStreamingHosting.Events;

namespace LambdaStreamingHosting.Tests.Events;

public class RequestPathTests
{
    [Theory]
    [InlineData("/plain/path", "/plain/path")]
    [InlineData("/a%20b", "/a b")]
    [InlineData("/caf%C3%A9", "/café")]
    [InlineData("/a%2Fb", "/a%2Fb")]
    [InlineData("/a%2fb", "/a%2fb")]
    [InlineData("/100%", "/100%")]
    [InlineData("/bad%zzescape", "/bad%zzescape")]
    [InlineData("/trailing%4", "/trailing%4")]
    [InlineData("/a/./b", "/a/b")]
    [InlineData("/a/b/../c", "/a/c")]
    [InlineData("/a/b/..", "/a/")]
    [InlineData("/..", "/")]
    [InlineData("/a/%2E%2E/b", "/b")]
    [InlineData("/a//b", "/a//b")]
    [InlineData("/.well-known/x", "/.well-known/x")]
    [InlineData("", "/")]
    [InlineData(null, "/")]
    [InlineData("/already decoded €", "/already decoded €")]
    public void Decodes_like_kestrel(string? raw, string expected) =>
        Assert.Equal(expected, RequestPath.Decode(raw));

    [Fact]
    public void Escapes_that_are_not_utf8_keep_the_path_undecoded() =>
        Assert.Equal("/x%FF%FE", RequestPath.Decode("/x%FF%FE"));
}
