namespace LambdaStreamingHosting.Testing.Tests;

public class SkeletonTests
{
    [Fact]
    public void Options_default_to_streaming()
    {
        Assert.Equal(LambdaInvokeMode.ResponseStream, new LambdaStreamingOptions().InvokeMode);
    }
}
