using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting;

/// <summary>Convenience access to the Lambda invocation behind a request.</summary>
public static class LambdaHttpContextExtensions
{
    /// <summary>
    /// Returns the Lambda invocation behind <paramref name="context"/>, or <see langword="null"/> when the app is not
    /// running inside Lambda (Kestrel, <c>dotnet run</c>, TestServer).
    /// </summary>
    /// <param name="context">The current request.</param>
    public static ILambdaInvocationFeature? GetLambdaInvocation(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Features.Get<ILambdaInvocationFeature>();
    }
}
