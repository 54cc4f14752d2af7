namespace LambdaStreamingHosting.Testing;

internal static class LambdaEmulatorPlaceholder
{
}
