using System.Buffers;
using System.Text;
using System.Text.Json;
using LambdaStreamingHosting.Events;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Tests.Events;

public class PreludeWriterTests
{
    private static (JsonElement Json, string Text) Write(ResponseShape shape, int status, HeaderDictionary headers)
    {
        var output = new ArrayBufferWriter<byte>();
        PreludeWriter.Write(output, shape, status, headers);
        var text = Encoding.UTF8.GetString(output.WrittenSpan);
        return (JsonDocument.Parse(text).RootElement.Clone(), text);
    }

    [Fact]
    public void Payload_v2_prelude_has_status_single_value_headers_and_cookies()
    {
        var headers = new HeaderDictionary
        {
            ["Content-Type"] = "text/event-stream",
            ["Cache-Control"] = new(["no-cache", "no-store"]),
            ["Set-Cookie"] = new(["a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"]),
        };

        var (json, _) = Write(ResponseShape.PayloadV2, 201, headers);

        Assert.Equal(201, json.GetProperty("statusCode").GetInt32());
        var sent = json.GetProperty("headers");
        Assert.Equal("text/event-stream", sent.GetProperty("Content-Type").GetString());
        Assert.Equal("no-cache, no-store", sent.GetProperty("Cache-Control").GetString());
        Assert.False(sent.TryGetProperty("Set-Cookie", out _));
        Assert.Equal(["a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"],
            json.GetProperty("cookies").EnumerateArray().Select(c => c.GetString()));
        Assert.False(json.TryGetProperty("multiValueHeaders", out _));
    }

    [Fact]
    public void Payload_v2_prelude_without_cookies_has_no_cookies_field()
    {
        var (json, text) = Write(ResponseShape.PayloadV2, 204, []);

        Assert.Equal("""{"statusCode":204,"headers":{}}""", text);
        Assert.False(json.TryGetProperty("cookies", out _));
    }

    [Theory]
    [InlineData("Content-Length", "12")]
    [InlineData("Transfer-Encoding", "chunked")]
    [InlineData("Connection", "close")]
    [InlineData("keep-alive", "timeout=5")]
    public void Framing_and_hop_by_hop_headers_never_reach_the_prelude(string name, string value)
    {
        var (json, _) = Write(ResponseShape.PayloadV2, 200, new HeaderDictionary { [name] = value, ["X-Kept"] = "yes" });

        var sent = json.GetProperty("headers");
        Assert.False(sent.TryGetProperty(name, out _));
        Assert.Equal("yes", sent.GetProperty("X-Kept").GetString());
    }

    [Fact]
    public void Rest_prelude_sends_multi_value_headers_with_one_set_cookie_per_value()
    {
        var headers = new HeaderDictionary
        {
            ["Content-Type"] = "application/json",
            ["Vary"] = new(["Accept", "Origin"]),
            ["Set-Cookie"] = new(["a=1", "b=2"]),
            ["Content-Length"] = "3",
        };

        var (json, _) = Write(ResponseShape.RestApi, 200, headers);

        var multi = json.GetProperty("multiValueHeaders");
        Assert.Equal(["Accept", "Origin"], multi.GetProperty("Vary").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(["a=1", "b=2"], multi.GetProperty("Set-Cookie").EnumerateArray().Select(v => v.GetString()));
        Assert.False(multi.TryGetProperty("Content-Length", out _));
        Assert.False(json.TryGetProperty("headers", out _));
        Assert.False(json.TryGetProperty("cookies", out _));
    }

    [Theory]
    [InlineData("X-Evil", "a\r\nSet-Cookie: pwned=1", "Invalid control character in header value: 0x0D")]
    [InlineData("X-Evil", "a\nb", "Invalid control character in header value: 0x0A")]
    [InlineData("X-Evil", "a\0b", "Invalid control character in header value: 0x00")]
    [InlineData("X-Evil", "caf\u00e9", "Invalid non-ASCII character in header value: 0x00E9")]
    [InlineData("X Evil", "a", "Invalid character in header name: 0x20")]
    [InlineData("X-Evil\r\n", "a", "Invalid character in header name: 0x0D")]
    [InlineData("X:Evil", "a", "Invalid character in header name: 0x3A")]
    public void Header_injection_is_rejected_before_anything_is_written(string name, string value, string message)
    {
        var output = new ArrayBufferWriter<byte>();
        var headers = new HeaderDictionary { ["X-Fine"] = "ok", [name] = value };

        var ex = Assert.Throws<InvalidOperationException>(() => PreludeWriter.Write(output, ResponseShape.PayloadV2, 200, headers));

        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, output.WrittenCount);
    }

    [Fact]
    public void Set_cookie_with_a_newline_is_rejected_too()
    {
        var headers = new HeaderDictionary { ["Set-Cookie"] = new(["a=1", "b=2\r\nX-Injected: 1"]) };

        Assert.Throws<InvalidOperationException>(() => PreludeWriter.Write(new ArrayBufferWriter<byte>(), ResponseShape.PayloadV2, 200, headers));
    }

    [Fact]
    public void Tab_and_visible_ascii_are_valid_header_values()
    {
        var value = "a\tb !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

        var (json, _) = Write(ResponseShape.PayloadV2, 200, new HeaderDictionary { ["X-All"] = value });

        Assert.Equal(value, json.GetProperty("headers").GetProperty("X-All").GetString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(99)]
    [InlineData(600)]
    [InlineData(-1)]
    public void Status_codes_outside_100_to_599_are_rejected(int status)
    {
        var output = new ArrayBufferWriter<byte>();

        var ex = Assert.Throws<InvalidOperationException>(() => PreludeWriter.Write(output, ResponseShape.PayloadV2, status, new HeaderDictionary()));

        Assert.Contains($"Invalid status code {status}", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, output.WrittenCount);
    }

    [Fact]
    public void Prelude_json_escapes_quotes_and_backslashes_in_values()
    {
        var (json, text) = Write(ResponseShape.PayloadV2, 200, new HeaderDictionary { ["ETag"] = "W/\"abc\\\"" });

        Assert.Equal("W/\"abc\\\"", json.GetProperty("headers").GetProperty("ETag").GetString());
        Assert.DoesNotContain("\\u0022", text, StringComparison.Ordinal);
    }
}
