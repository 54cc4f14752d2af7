using System.Globalization;
using System.Security.Cryptography;

namespace LambdaStreamingHosting.Testing;

/// <summary>Makes X-Ray trace headers: <c>Root=1-{epoch seconds hex}-{24 hex};Parent={16 hex};Sampled=0</c>.</summary>
internal static class TraceIds
{
    /// <summary>The request header front ends carry the trace in.</summary>
    public const string HeaderName = "X-Amzn-Trace-Id";

    public static string NewRoot(DateTimeOffset now) =>
        $"Root=1-{now.ToUnixTimeSeconds().ToString("x8", CultureInfo.InvariantCulture)}-{RandomHex(12)}";

    /// <summary>The <c>Lambda-Runtime-Trace-Id</c> for a request traced as <paramref name="requestTrace"/>.</summary>
    public static string ForFunction(string requestTrace) =>
        requestTrace.Contains("Parent=", StringComparison.Ordinal) ? requestTrace : $"{requestTrace};Parent={RandomHex(8)};Sampled=0";

    private static string RandomHex(int bytes) => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(bytes));
}
