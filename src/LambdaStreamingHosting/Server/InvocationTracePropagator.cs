using System.Diagnostics;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// The <see cref="DistributedContextPropagator"/> ASP.NET Core hosting takes the request's remote parent from, around
/// the app's own (the W3C one unless the app chose another): with <see cref="LambdaStreamingOptions.ContinueXRayTrace"/>,
/// a request that carries no parent of its own continues the invocation's X-Ray trace (<c>Lambda-Runtime-Trace-Id</c>),
/// as a W3C parent. The request's headers are left as the client sent them: the invocation loop names, for the moment it
/// creates the request's context on its thread, which header dictionary belongs to which trace header, and only a
/// lookup on that very dictionary gets the fallback. Everything else goes to the app's propagator unchanged.
/// </summary>
internal sealed class InvocationTracePropagator(DistributedContextPropagator inner) : DistributedContextPropagator
{
    // Set by the invocation loop only while hosting creates the request's context (synchronously, on the loop's thread).
    [ThreadStatic]
    private static object? t_carrier;

    [ThreadStatic]
    private static string? t_traceHeader;

    /// <summary>The propagator this one falls back from.</summary>
    public DistributedContextPropagator Inner => inner;

    public override IReadOnlyCollection<string> Fields => inner.Fields;

    /// <summary>
    /// Until <see cref="EndFallback"/>, a request whose <paramref name="headers"/> carry no parent continues the X-Ray
    /// trace <paramref name="traceHeader"/> (<c>Root=1-…;Parent=…;Sampled=…</c>).
    /// </summary>
    public static void BeginFallback(object headers, string traceHeader)
    {
        t_carrier = headers;
        t_traceHeader = traceHeader;
    }

    public static void EndFallback()
    {
        t_carrier = null;
        t_traceHeader = null;
    }

    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter) =>
        inner.Inject(activity, carrier, setter);

    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState)
    {
        inner.ExtractTraceIdAndState(carrier, getter, out traceId, out traceState);
        if (string.IsNullOrEmpty(traceId) && carrier is not null && ReferenceEquals(carrier, t_carrier)
            && XRayTraceHeader.ToTraceParent(t_traceHeader) is { } parent)
        {
            traceId = parent;
            traceState = null;
        }
    }

    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) =>
        inner.ExtractBaggage(carrier, getter);
}
