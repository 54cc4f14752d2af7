using System.Buffers;
using System.Text;
using System.Text.Json;
using LambdaStreamingHosting.Logging;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Tests.Logging;

/// <summary>The Lambda logger's line formats, entry by entry (the process tests check the lines a real app writes).</summary>
public sealed class LogEntryFormatterTests
{
    private static readonly DateTimeOffset Time = new(2025, 3, 4, 5, 6, 7, 89, TimeSpan.FromHours(2));
    private static readonly LogCategory Category = new("MyApp.Orders");

    [Fact]
    public void A_JSON_entry_has_Lambda_s_fields_and_the_template_properties()
    {
        using var invocation = Invocation("8476a536-e9f4-11e8-9739-2dfe598c3fcd", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1", "tenant-7");
        using var scope = InvocationLogContext.Of(invocation);
        var properties = new List<KeyValuePair<string, object?>>
        {
            new("Name", "Ada"),
            new("Visit", 3),
            new("{OriginalFormat}", "Greeting {Name}, visit {Visit}"),
        };

        var line = Json(new LogEntry(Time, LogLevel.Information, Category, "Greeting Ada, visit 3", properties, null, scope));

        Assert.Equal(
            """{"timestamp":"2025-03-04T03:06:07.089Z","level":"INFO","requestId":"8476a536-e9f4-11e8-9739-2dfe598c3fcd","traceId":"Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1","tenantId":"tenant-7","message":"Greeting Ada, visit 3","logger":"MyApp.Orders","Name":"Ada","Visit":3}""" + "\n",
            line);
    }

    [Theory]
    [InlineData(LogLevel.Trace, "TRACE")]
    [InlineData(LogLevel.Debug, "DEBUG")]
    [InlineData(LogLevel.Information, "INFO")]
    [InlineData(LogLevel.Warning, "WARN")]
    [InlineData(LogLevel.Error, "ERROR")]
    [InlineData(LogLevel.Critical, "FATAL")]
    public void Levels_have_Lambda_s_names_in_both_formats(LogLevel level, string name)
    {
        var entry = new LogEntry(Time, level, Category, "m", null, null, null);

        Assert.Equal(name, Parse(Json(entry)).GetProperty("level").GetString());
        Assert.Equal(name, Text(entry).Split('\t')[2]);
    }

    [Fact]
    public void An_exception_and_a_multi_line_message_stay_on_one_JSON_line()
    {
        var exception = Thrown(new InvalidOperationException("the warehouse\nis closed"));

        var line = Json(new LogEntry(Time, LogLevel.Error, Category, "first\nsecond\r\nthird", null, exception, null));

        Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.EndsWith("\n", line, StringComparison.Ordinal);
        var json = Parse(line);
        Assert.Equal("first\nsecond\r\nthird", json.GetProperty("message").GetString());
        Assert.Equal("System.InvalidOperationException", json.GetProperty("errorType").GetString());
        Assert.Equal("the warehouse\nis closed", json.GetProperty("errorMessage").GetString());
        var stack = json.GetProperty("stackTrace").EnumerateArray().Select(item => item.GetString()!).ToList();
        Assert.Equal("System.InvalidOperationException: the warehouse", stack[0]);
        Assert.Equal("is closed", stack[1]);
        Assert.Contains(stack, frame => frame.StartsWith("at ", StringComparison.Ordinal) && frame.Contains(nameof(Thrown), StringComparison.Ordinal));
        Assert.False(json.TryGetProperty("requestId", out _));
    }

    [Fact]
    public void Template_properties_keep_their_JSON_types_and_cannot_replace_the_entry_s_fields()
    {
        var properties = new List<KeyValuePair<string, object?>>
        {
            new("message", "spoofed"),
            new("level", "DEBUG"),
            new("Ratio", 0.25),
            new("NotANumber", double.NaN),
            new("Big", 12345678901234L),
            new("Price", 9.99m),
            new("Flag", true),
            new("Missing", null),
            new("When", new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc)),
            new("Id", Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e")),
            new("Level", LogLevel.Warning),
            new("Items", new[] { 1, 2, 3 }),
            new("Span", TimeSpan.FromSeconds(90)),
            new("Bytes", new byte[] { 1, 2, 3 }),
        };

        var json = Parse(Json(new LogEntry(Time, LogLevel.Warning, Category, "real", properties, null, null)));

        Assert.Equal("real", json.GetProperty("message").GetString());
        Assert.Equal("WARN", json.GetProperty("level").GetString());
        Assert.Equal(0.25, json.GetProperty("Ratio").GetDouble());
        Assert.Equal("NaN", json.GetProperty("NotANumber").GetString());
        Assert.Equal(12345678901234L, json.GetProperty("Big").GetInt64());
        Assert.Equal(9.99m, json.GetProperty("Price").GetDecimal());
        Assert.True(json.GetProperty("Flag").GetBoolean());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("Missing").ValueKind);
        Assert.Equal("2025-01-02T03:04:05Z", json.GetProperty("When").GetString());
        Assert.Equal("0f8fad5b-d9cb-469f-a165-70867728950e", json.GetProperty("Id").GetString());
        Assert.Equal("Warning", json.GetProperty("Level").GetString());
        Assert.Equal([1, 2, 3], json.GetProperty("Items").EnumerateArray().Select(item => item.GetInt32()));
        Assert.Equal("00:01:30", json.GetProperty("Span").GetString());
        Assert.Equal("AQID", json.GetProperty("Bytes").GetString());
    }

    [Fact]
    public void A_text_entry_is_one_tab_separated_line_with_the_exception_inline()
    {
        using var invocation = Invocation("req-1", null, null);
        using var scope = InvocationLogContext.Of(invocation);
        var exception = Thrown(new InvalidOperationException("boom"));

        var line = Text(new LogEntry(Time, LogLevel.Error, Category, "first\nsecond", null, exception, scope));

        Assert.EndsWith("\n", line, StringComparison.Ordinal);
        Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain('\r', line);
        Assert.StartsWith("2025-03-04T03:06:07.089Z\treq-1\tERROR\tMyApp.Orders: first\\nsecond\\nSystem.InvalidOperationException: boom\\n   at ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_text_entry_outside_an_invocation_has_an_empty_request_id()
    {
        Assert.Equal("2025-03-04T03:06:07.089Z\t\tINFO\tMyApp.Orders: started\n", Text(new LogEntry(Time, LogLevel.Information, Category, "started", null, null, null)));
    }

    [Fact]
    public void The_safe_form_replaces_lone_surrogates_and_leaves_the_properties_out()
    {
        var properties = new List<KeyValuePair<string, object?>> { new("Name", "Ada") };
        var entry = new LogEntry(Time, LogLevel.Information, Category, "half a pair: \ud800", properties, null, null);

        var buffer = new ArrayBufferWriter<byte>();
        LogEntryFormatter.WriteSafely(buffer, LambdaLogFormat.Json, entry);

        var json = Parse(Encoding.UTF8.GetString(buffer.WrittenSpan));
        Assert.Equal("half a pair: \ufffd", json.GetProperty("message").GetString());
        Assert.False(json.TryGetProperty("Name", out _));
    }

    [Fact]
    public void Timestamps_are_RFC_3339_UTC_with_milliseconds()
    {
        Span<byte> formatted = stackalloc byte[24];
        LogEntryFormatter.FormatTimestamp(new DateTimeOffset(999, 12, 31, 23, 59, 59, 999, TimeSpan.Zero), formatted);
        Assert.Equal("0999-12-31T23:59:59.999Z", Encoding.ASCII.GetString(formatted));

        var now = DateTimeOffset.UtcNow;
        LogEntryFormatter.FormatTimestamp(now, formatted);
        Assert.Equal(now.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture), Encoding.ASCII.GetString(formatted));
    }

    internal static Invocation Invocation(string requestId, string? traceId, string? tenantId)
    {
        var invocation = new Invocation();
        invocation.Reset();
        invocation.AddHeader("Lambda-Runtime-Aws-Request-Id"u8, Encoding.ASCII.GetBytes(requestId));
        if (traceId is not null)
        {
            invocation.AddHeader("Lambda-Runtime-Trace-Id"u8, Encoding.ASCII.GetBytes(traceId));
        }

        if (tenantId is not null)
        {
            invocation.AddHeader("Lambda-Runtime-Aws-Tenant-Id"u8, Encoding.ASCII.GetBytes(tenantId));
        }

        return invocation;
    }

    private static string Json(in LogEntry entry) => Format(entry, LambdaLogFormat.Json);

    private static string Text(in LogEntry entry) => Format(entry, LambdaLogFormat.Text);

    private static string Format(in LogEntry entry, LambdaLogFormat format)
    {
        var buffer = new ArrayBufferWriter<byte>();
        LogEntryFormatter.Write(buffer, format, entry);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static JsonElement Parse(string line) => JsonDocument.Parse(line).RootElement;

    private static Exception Thrown(Exception exception)
    {
        try
        {
            throw exception;
        }
        catch (Exception caught)
        {
            return caught;
        }
    }
}
