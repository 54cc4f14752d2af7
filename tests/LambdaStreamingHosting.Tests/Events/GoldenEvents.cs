using LambdaStreamingHosting.Events;

namespace LambdaStreamingHosting.Tests.Events;

/// <summary>The golden events of <c>Events/Golden</c>: real captures and events written from the AWS documentation.</summary>
internal static class GoldenEvents
{
    public static byte[] Read(string name) =>
        File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Events", "Golden", name));

    public static LambdaHttpRequest Map(string name, LambdaStreamingOptions? options = null) =>
        EventMapper.Map(Read(name), options ?? new LambdaStreamingOptions());

    public static LambdaHttpRequest MapJson(string json, LambdaStreamingOptions? options = null) =>
        EventMapper.Map(System.Text.Encoding.UTF8.GetBytes(json), options ?? new LambdaStreamingOptions());

    public static string BodyText(this LambdaHttpRequest request) => System.Text.Encoding.UTF8.GetString(request.Body.Span);
}
