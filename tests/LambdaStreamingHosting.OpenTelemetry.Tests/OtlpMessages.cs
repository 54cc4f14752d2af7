namespace LambdaStreamingHosting.OpenTelemetry.Tests;

/// <summary>A span as an OTLP collector received it: ids in lower-case hex (empty when absent).</summary>
public sealed record ReceivedSpan(
    string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, string Scope,
    IReadOnlyDictionary<string, object?> Attributes, IReadOnlyDictionary<string, object?> Resource);

/// <summary>One data point of a metric: a sum's value, or a histogram's count and sum.</summary>
public sealed record ReceivedPoint(
    string Metric, string Unit, string Scope, IReadOnlyDictionary<string, object?> Attributes, double Value, ulong Count,
    IReadOnlyDictionary<string, object?> Resource);

/// <summary>
/// Decodes OTLP/HTTP protobuf requests (<c>ExportTraceServiceRequest</c>, <c>ExportMetricsServiceRequest</c>, from
/// opentelemetry-proto's field numbers) into the records the tests assert on. Sums (monotonic or not), gauges and
/// explicit-bucket histograms are read; other fields are skipped.
/// </summary>
internal static class OtlpMessages
{
    // ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
    // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
    // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
    public static List<ReceivedSpan> DecodeTraces(ReadOnlySpan<byte> request) =>
        [.. from resourceSpans in Repeated(request, 1)
            let resource = Attributes(First(resourceSpans, 1), 1)
            from scopeSpans in Repeated(resourceSpans, 2)
            let scope = ScopeName(First(scopeSpans, 1))
            from span in Repeated(scopeSpans, 2)
            select ReadSpan(span, scope, resource)];

    // ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
    // ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
    // ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; }
    // Metric { string name = 1; string unit = 3; Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9; }, each { repeated ...DataPoint data_points = 1; }
    public static List<ReceivedPoint> DecodeMetrics(ReadOnlySpan<byte> request) =>
        [.. from resourceMetrics in Repeated(request, 1)
            let resource = Attributes(First(resourceMetrics, 1), 1)
            from scopeMetrics in Repeated(resourceMetrics, 2)
            let scope = ScopeName(First(scopeMetrics, 1))
            from metric in Repeated(scopeMetrics, 2)
            let name = Text(First(metric, 1))
            let unit = Text(First(metric, 3))
            from point in Points(metric, name, unit, scope, resource)
            select point];

    private static IEnumerable<ReceivedPoint> Points(byte[] metric, string name, string unit, string scope, IReadOnlyDictionary<string, object?> resource)
    {
        foreach (var data in Repeated(metric, 5).Concat(Repeated(metric, 7)))
        {
            foreach (var point in Repeated(data, 1))
            {
                // NumberDataPoint { double as_double = 4; sfixed64 as_int = 6; repeated KeyValue attributes = 7; }
                var value = Fixed64(point, 4) is { } asDouble ? BitConverter.UInt64BitsToDouble(asDouble) : (long)(Fixed64(point, 6) ?? 0);
                yield return new ReceivedPoint(name, unit, scope, Attributes(point, 7), value, 0, resource);
            }
        }

        foreach (var data in Repeated(metric, 9))
        {
            foreach (var point in Repeated(data, 1))
            {
                // HistogramDataPoint { fixed64 count = 4; double sum = 5; repeated KeyValue attributes = 9; }
                var sum = BitConverter.UInt64BitsToDouble(Fixed64(point, 5) ?? 0);
                yield return new ReceivedPoint(name, unit, scope, Attributes(point, 9), sum, Fixed64(point, 4) ?? 0, resource);
            }
        }
    }

    // Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; SpanKind kind = 6; repeated KeyValue attributes = 9; }
    private static ReceivedSpan ReadSpan(byte[] span, string scope, IReadOnlyDictionary<string, object?> resource) => new(
        Convert.ToHexStringLower(First(span, 1) ?? []),
        Convert.ToHexStringLower(First(span, 2) ?? []),
        Convert.ToHexStringLower(First(span, 4) ?? []),
        Text(First(span, 5)),
        (int)(Varint(span, 6) ?? 0),
        scope,
        Attributes(span, 9),
        resource);

    // InstrumentationScope { string name = 1; }
    private static string ScopeName(byte[]? scope) => scope is null ? "" : Text(First(scope, 1));

    // Resource { repeated KeyValue attributes = 1; }, KeyValue { string key = 1; AnyValue value = 2; }
    private static Dictionary<string, object?> Attributes(byte[]? message, int field)
    {
        var attributes = new Dictionary<string, object?>();
        foreach (var keyValue in message is null ? [] : Repeated(message, field))
        {
            attributes[Text(First(keyValue, 1))] = First(keyValue, 2) is { } value ? AnyValue(value) : null;
        }

        return attributes;
    }

    // AnyValue { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; }
    private static object? AnyValue(byte[] value)
    {
        var reader = new ProtobufReader(value);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, ProtobufReader.LengthDelimited):
                    return reader.ReadString();
                case (2, ProtobufReader.Varint):
                    return reader.ReadVarint() != 0;
                case (3, ProtobufReader.Varint):
                    return (long)reader.ReadVarint();
                case (4, ProtobufReader.Fixed64):
                    return BitConverter.UInt64BitsToDouble(reader.ReadFixed64());
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return null;
    }

    private static string Text(byte[]? bytes) => bytes is null ? "" : System.Text.Encoding.UTF8.GetString(bytes);

    /// <summary>Every value of the length-delimited field <paramref name="number"/> (a repeated message or string).</summary>
    private static List<byte[]> Repeated(ReadOnlySpan<byte> message, int number)
    {
        var values = new List<byte[]>();
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == number && wire == ProtobufReader.LengthDelimited)
            {
                values.Add(reader.ReadLengthDelimited().ToArray());
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return values;
    }

    private static byte[]? First(ReadOnlySpan<byte> message, int number) => Repeated(message, number) is [var first, ..] ? first : null;

    private static ulong? Fixed64(ReadOnlySpan<byte> message, int number) => Scalar(message, number, ProtobufReader.Fixed64);

    private static ulong? Varint(ReadOnlySpan<byte> message, int number) => Scalar(message, number, ProtobufReader.Varint);

    private static ulong? Scalar(ReadOnlySpan<byte> message, int number, int wireType)
    {
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == number && wire == wireType)
            {
                return wireType == ProtobufReader.Fixed64 ? reader.ReadFixed64() : reader.ReadVarint();
            }

            reader.Skip(wire);
        }

        return null;
    }
}
