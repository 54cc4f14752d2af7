using System.Globalization;
using System.Security.Cryptography;

namespace LambdaStreamingHosting.Testing;

/// <summary>Makes X-Ray trace headers: <c>Root=1-{epoch seconds hex}-{24 hex};Parent={16 hex};Sampled=0</c>.</summary>
internal static class TraceIds
{
    public static string NewRoot(DateTimeOffset now) =>
        $"Root=1-{now.ToUnixTimeSeconds().ToString("x8", CultureInfo.InvariantCulture)}-{RandomHex(12)}";

    public static string NewTraceHeader(DateTimeOffset now) => $"{NewRoot(now)};Parent={RandomHex(8)};Sampled=0";

    private static string RandomHex(int bytes) => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(bytes));
}
