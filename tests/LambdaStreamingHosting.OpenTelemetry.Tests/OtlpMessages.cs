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
    public static List<ReceivedSpan> DecodeTraces(ReadOnlySpan<byte> request)
    {
        var spans = new List<ReceivedSpan>();
        var reader = new ProtobufReader(request);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == ProtobufReader.LengthDelimited)
            {
                ReadResourceSpans(reader.ReadLengthDelimited(), spans);
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return spans;
    }

    public static List<ReceivedPoint> DecodeMetrics(ReadOnlySpan<byte> request)
    {
        var points = new List<ReceivedPoint>();
        var reader = new ProtobufReader(request);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == ProtobufReader.LengthDelimited)
            {
                ReadResourceMetrics(reader.ReadLengthDelimited(), points);
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return points;
    }

    // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
    private static void ReadResourceSpans(ReadOnlySpan<byte> message, List<ReceivedSpan> spans)
    {
        IReadOnlyDictionary<string, object?> resource = new Dictionary<string, object?>();
        var scopes = new List<byte[]>();
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtobufReader.LengthDelimited:
                    resource = ReadResource(reader.ReadLengthDelimited());
                    break;
                case 2 when wire == ProtobufReader.LengthDelimited:
                    scopes.Add(reader.ReadLengthDelimited().ToArray());
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
        foreach (var scopeSpans in scopes)
        {
            var scope = "";
            var spanMessages = new List<byte[]>();
            var scopeReader = new ProtobufReader(scopeSpans);
            while (scopeReader.TryReadTag(out var field, out var wire))
            {
                if (field == 1 && wire == ProtobufReader.LengthDelimited)
                {
                    scope = ReadScopeName(scopeReader.ReadLengthDelimited());
                }
                else if (field == 2 && wire == ProtobufReader.LengthDelimited)
                {
                    spanMessages.Add(scopeReader.ReadLengthDelimited().ToArray());
                }
                else
                {
                    scopeReader.Skip(wire);
                }
            }

            spans.AddRange(spanMessages.Select(span => ReadSpan(span, scope, resource)));
        }
    }

    // Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; SpanKind kind = 6; repeated KeyValue attributes = 9; }
    private static ReceivedSpan ReadSpan(ReadOnlySpan<byte> message, string scope, IReadOnlyDictionary<string, object?> resource)
    {
        string traceId = "", spanId = "", parentSpanId = "", name = "";
        var kind = 0;
        var attributes = new Dictionary<string, object?>();
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtobufReader.LengthDelimited:
                    traceId = Convert.ToHexStringLower(reader.ReadLengthDelimited());
                    break;
                case 2 when wire == ProtobufReader.LengthDelimited:
                    spanId = Convert.ToHexStringLower(reader.ReadLengthDelimited());
                    break;
                case 4 when wire == ProtobufReader.LengthDelimited:
                    parentSpanId = Convert.ToHexStringLower(reader.ReadLengthDelimited());
                    break;
                case 5 when wire == ProtobufReader.LengthDelimited:
                    name = reader.ReadString();
                    break;
                case 6 when wire == ProtobufReader.Varint:
                    kind = (int)reader.ReadVarint();
                    break;
                case 9 when wire == ProtobufReader.LengthDelimited:
                    AddKeyValue(reader.ReadLengthDelimited(), attributes);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return new ReceivedSpan(traceId, spanId, parentSpanId, name, kind, scope, attributes, resource);
    }

    // ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
    private static void ReadResourceMetrics(ReadOnlySpan<byte> message, List<ReceivedPoint> points)
    {
        IReadOnlyDictionary<string, object?> resource = new Dictionary<string, object?>();
        var scopes = new List<byte[]>();
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtobufReader.LengthDelimited:
                    resource = ReadResource(reader.ReadLengthDelimited());
                    break;
                case 2 when wire == ProtobufReader.LengthDelimited:
                    scopes.Add(reader.ReadLengthDelimited().ToArray());
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        // ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; }
        foreach (var scopeMetrics in scopes)
        {
            var scope = "";
            var metrics = new List<byte[]>();
            var scopeReader = new ProtobufReader(scopeMetrics);
            while (scopeReader.TryReadTag(out var field, out var wire))
            {
                if (field == 1 && wire == ProtobufReader.LengthDelimited)
                {
                    scope = ReadScopeName(scopeReader.ReadLengthDelimited());
                }
                else if (field == 2 && wire == ProtobufReader.LengthDelimited)
                {
                    metrics.Add(scopeReader.ReadLengthDelimited().ToArray());
                }
                else
                {
                    scopeReader.Skip(wire);
                }
            }

            foreach (var metric in metrics)
            {
                ReadMetric(metric, scope, resource, points);
            }
        }
    }

    // Metric { string name = 1; string unit = 3; Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9; }
    private static void ReadMetric(ReadOnlySpan<byte> message, string scope, IReadOnlyDictionary<string, object?> resource, List<ReceivedPoint> points)
    {
        string name = "", unit = "";
        var numberData = new List<byte[]>();
        var histogramData = new List<byte[]>();
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtobufReader.LengthDelimited:
                    name = reader.ReadString();
                    break;
                case 3 when wire == ProtobufReader.LengthDelimited:
                    unit = reader.ReadString();
                    break;
                case 5 or 7 when wire == ProtobufReader.LengthDelimited:
                    numberData.Add(reader.ReadLengthDelimited().ToArray());
                    break;
                case 9 when wire == ProtobufReader.LengthDelimited:
                    histogramData.Add(reader.ReadLengthDelimited().ToArray());
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        // Gauge/Sum/Histogram { repeated ...DataPoint data_points = 1; }
        foreach (var data in numberData)
        {
            foreach (var point in DataPoints(data))
            {
                points.Add(ReadNumberPoint(point, name, unit, scope, resource));
            }
        }

        foreach (var data in histogramData)
        {
            foreach (var point in DataPoints(data))
            {
                points.Add(ReadHistogramPoint(point, name, unit, scope, resource));
            }
        }
    }

    private static List<byte[]> DataPoints(ReadOnlySpan<byte> data)
    {
        var result = new List<byte[]>();
        var reader = new ProtobufReader(data);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == ProtobufReader.LengthDelimited)
            {
                result.Add(reader.ReadLengthDelimited().ToArray());
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return result;
    }

    // NumberDataPoint { double as_double = 4; sfixed64 as_int = 6; repeated KeyValue attributes = 7; }
    private static ReceivedPoint ReadNumberPoint(ReadOnlySpan<byte> message, string name, string unit, string scope, IReadOnlyDictionary<string, object?> resource)
    {
        var attributes = new Dictionary<string, object?>();
        double value = 0;
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 4 when wire == ProtobufReader.Fixed64:
                    value = BitConverter.UInt64BitsToDouble(reader.ReadFixed64());
                    break;
                case 6 when wire == ProtobufReader.Fixed64:
                    value = (long)reader.ReadFixed64();
                    break;
                case 7 when wire == ProtobufReader.LengthDelimited:
                    AddKeyValue(reader.ReadLengthDelimited(), attributes);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return new ReceivedPoint(name, unit, scope, attributes, value, 0, resource);
    }

    // HistogramDataPoint { fixed64 count = 4; double sum = 5; repeated KeyValue attributes = 9; }
    private static ReceivedPoint ReadHistogramPoint(ReadOnlySpan<byte> message, string name, string unit, string scope, IReadOnlyDictionary<string, object?> resource)
    {
        var attributes = new Dictionary<string, object?>();
        double sum = 0;
        ulong count = 0;
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 4 when wire == ProtobufReader.Fixed64:
                    count = reader.ReadFixed64();
                    break;
                case 5 when wire == ProtobufReader.Fixed64:
                    sum = BitConverter.UInt64BitsToDouble(reader.ReadFixed64());
                    break;
                case 9 when wire == ProtobufReader.LengthDelimited:
                    AddKeyValue(reader.ReadLengthDelimited(), attributes);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return new ReceivedPoint(name, unit, scope, attributes, sum, count, resource);
    }

    // Resource { repeated KeyValue attributes = 1; }
    private static Dictionary<string, object?> ReadResource(ReadOnlySpan<byte> message)
    {
        var attributes = new Dictionary<string, object?>();
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == ProtobufReader.LengthDelimited)
            {
                AddKeyValue(reader.ReadLengthDelimited(), attributes);
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return attributes;
    }

    // InstrumentationScope { string name = 1; }
    private static string ReadScopeName(ReadOnlySpan<byte> message)
    {
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == ProtobufReader.LengthDelimited)
            {
                return reader.ReadString();
            }

            reader.Skip(wire);
        }

        return "";
    }

    // KeyValue { string key = 1; AnyValue value = 2; }
    private static void AddKeyValue(ReadOnlySpan<byte> message, Dictionary<string, object?> attributes)
    {
        var key = "";
        object? value = null;
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == ProtobufReader.LengthDelimited)
            {
                key = reader.ReadString();
            }
            else if (field == 2 && wire == ProtobufReader.LengthDelimited)
            {
                value = ReadAnyValue(reader.ReadLengthDelimited());
            }
            else
            {
                reader.Skip(wire);
            }
        }

        attributes[key] = value;
    }

    // AnyValue { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; }
    private static object? ReadAnyValue(ReadOnlySpan<byte> message)
    {
        object? value = null;
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            value = (field, wire) switch
            {
                (1, ProtobufReader.LengthDelimited) => reader.ReadString(),
                (2, ProtobufReader.Varint) => reader.ReadVarint() != 0,
                (3, ProtobufReader.Varint) => (long)reader.ReadVarint(),
                (4, ProtobufReader.Fixed64) => BitConverter.UInt64BitsToDouble(reader.ReadFixed64()),
                _ => Skipped(ref reader, wire, value),
            };
        }

        return value;
    }

    private static object? Skipped(ref ProtobufReader reader, int wire, object? value)
    {
        reader.Skip(wire);
        return value;
    }
}
