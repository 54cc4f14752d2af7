using LambdaStreamingHosting.Events;

namespace LambdaStreamingHosting.Tests.Events;

public class ContentTypesTests
{
    private static readonly IList<string> Defaults = new LambdaStreamingOptions().TextContentTypes;

    [Theory]
    [InlineData("text/plain", true)]
    [InlineData("text/event-stream", true)]
    [InlineData("Text/HTML; charset=utf-8", true)]
    [InlineData("application/json", true)]
    [InlineData("application/json; charset=utf-8", true)]
    [InlineData("application/problem+json", true)]
    [InlineData("application/atom+xml", true)]
    [InlineData("application/xml", true)]
    [InlineData("application/javascript", true)]
    [InlineData("application/x-www-form-urlencoded", true)]
    [InlineData("application/octet-stream", false)]
    [InlineData("image/png", false)]
    [InlineData("application/pdf", false)]
    [InlineData("application/jsonx", false)]
    [InlineData("textual/plain", false)]
    [InlineData("", false)]
    [InlineData("  ; charset=utf-8", false)]
    public void Default_text_content_types(string contentType, bool isText) =>
        Assert.Equal(isText, ContentTypes.IsText(contentType, Defaults));

    [Fact]
    public void Star_slash_star_makes_every_declared_content_type_text()
    {
        Assert.True(ContentTypes.IsText("image/png", ["*/*"]));
        Assert.False(ContentTypes.IsText(default, ["*/*"]));
    }
}
