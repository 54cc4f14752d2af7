using System.Buffers;
using System.Text;
using System.Text.Json;
using LambdaStreamingHosting.Events;
using Microsoft.AspNetCore.Http;

namespace LambdaStreamingHosting.Tests.Events;

public class BufferedResponseWriterTests
{
    private static JsonElement Write(ResponseShape shape, int status, HeaderDictionary headers, byte[] body, LambdaStreamingOptions? options = null)
    {
        var output = new ArrayBufferWriter<byte>();
        BufferedResponseWriter.Write(output, shape, status, headers, body, options ?? new LambdaStreamingOptions());
        return JsonDocument.Parse(output.WrittenMemory).RootElement.Clone();
    }

    [Fact]
    public void Payload_v2_answer_has_headers_cookies_and_a_text_body()
    {
        var headers = new HeaderDictionary
        {
            ["Content-Type"] = "application/json; charset=utf-8",
            ["Content-Length"] = "13",
            ["Set-Cookie"] = new(["a=1", "b=2"]),
        };

        var json = Write(ResponseShape.PayloadV2, 200, headers, Encoding.UTF8.GetBytes("{\"a\":\"é<>\"}"));

        Assert.Equal(200, json.GetProperty("statusCode").GetInt32());
        Assert.Equal("application/json; charset=utf-8", json.GetProperty("headers").GetProperty("Content-Type").GetString());
        Assert.False(json.GetProperty("headers").TryGetProperty("Content-Length", out _));
        Assert.Equal(["a=1", "b=2"], json.GetProperty("cookies").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal("{\"a\":\"é<>\"}", json.GetProperty("body").GetString());
        Assert.False(json.GetProperty("isBase64Encoded").GetBoolean());
        Assert.False(json.TryGetProperty("statusDescription", out _));
    }

    [Theory]
    [InlineData("image/png")]
    [InlineData("application/octet-stream")]
    [InlineData(null)]
    public void Binary_content_types_and_no_content_type_are_base64(string? contentType)
    {
        var headers = new HeaderDictionary();
        if (contentType is not null)
        {
            headers["Content-Type"] = contentType;
        }

        byte[] body = [0x89, 0x50, 0x4E, 0x47, 0x00, 0xFF];

        var json = Write(ResponseShape.PayloadV2, 200, headers, body);

        Assert.True(json.GetProperty("isBase64Encoded").GetBoolean());
        Assert.Equal(body, json.GetProperty("body").GetBytesFromBase64());
    }

    [Theory]
    [InlineData("text/html; charset=utf-8")]
    [InlineData("application/problem+json")]
    [InlineData("image/svg+xml")]
    [InlineData("APPLICATION/JSON")]
    public void Text_content_types_are_sent_as_text(string contentType)
    {
        var json = Write(ResponseShape.RestApi, 200, new HeaderDictionary { ["Content-Type"] = contentType }, "hello"u8.ToArray());

        Assert.False(json.GetProperty("isBase64Encoded").GetBoolean());
        Assert.Equal("hello", json.GetProperty("body").GetString());
    }

    [Fact]
    public void Text_content_type_with_invalid_utf8_falls_back_to_base64()
    {
        byte[] body = [(byte)'a', 0xC3, 0x28];

        var json = Write(ResponseShape.PayloadV2, 200, new HeaderDictionary { ["Content-Type"] = "text/plain" }, body);

        Assert.True(json.GetProperty("isBase64Encoded").GetBoolean());
        Assert.Equal(body, json.GetProperty("body").GetBytesFromBase64());
    }

    [Fact]
    public void Text_content_types_are_configurable()
    {
        var options = new LambdaStreamingOptions();
        options.TextContentTypes.Clear();
        options.TextContentTypes.Add("application/x-ndjson");

        var ndjson = Write(ResponseShape.PayloadV2, 200, new HeaderDictionary { ["Content-Type"] = "application/x-ndjson" }, "{}\n"u8.ToArray(), options);
        var html = Write(ResponseShape.PayloadV2, 200, new HeaderDictionary { ["Content-Type"] = "text/html" }, "<p>"u8.ToArray(), options);

        Assert.False(ndjson.GetProperty("isBase64Encoded").GetBoolean());
        Assert.True(html.GetProperty("isBase64Encoded").GetBoolean());
    }

    [Fact]
    public void Rest_answer_uses_multi_value_headers()
    {
        var headers = new HeaderDictionary { ["Set-Cookie"] = new(["a=1", "b=2"]), ["Vary"] = new(["Accept", "Origin"]) };

        var json = Write(ResponseShape.RestApi, 302, headers, []);

        Assert.Equal(["a=1", "b=2"], json.GetProperty("multiValueHeaders").GetProperty("Set-Cookie").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(2, json.GetProperty("multiValueHeaders").GetProperty("Vary").GetArrayLength());
        Assert.False(json.TryGetProperty("cookies", out _));
        Assert.Equal("", json.GetProperty("body").GetString());
    }

    [Fact]
    public void Alb_single_value_answer_has_status_description_and_the_last_cookie()
    {
        var headers = new HeaderDictionary
        {
            ["Content-Type"] = "text/plain",
            ["Set-Cookie"] = new(["a=1", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"]),
            ["Vary"] = new(["Accept", "Origin"]),
        };

        var json = Write(ResponseShape.AlbSingleValue, 404, headers, "nope"u8.ToArray());

        Assert.Equal("404 Not Found", json.GetProperty("statusDescription").GetString());
        var sent = json.GetProperty("headers");
        Assert.Equal("b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT", sent.GetProperty("Set-Cookie").GetString());
        Assert.Equal("Accept, Origin", sent.GetProperty("Vary").GetString());
        Assert.False(json.TryGetProperty("multiValueHeaders", out _));
    }

    [Fact]
    public void Alb_multi_value_answer_has_status_description_and_every_cookie()
    {
        var headers = new HeaderDictionary { ["Set-Cookie"] = new(["a=1", "b=2"]) };

        var json = Write(ResponseShape.AlbMultiValue, 200, headers, []);

        Assert.Equal("200 OK", json.GetProperty("statusDescription").GetString());
        Assert.Equal(2, json.GetProperty("multiValueHeaders").GetProperty("Set-Cookie").GetArrayLength());
        Assert.False(json.TryGetProperty("headers", out _));
    }

    [Fact]
    public void Body_over_the_limit_is_a_clear_error_before_anything_is_written()
    {
        var output = new ArrayBufferWriter<byte>();
        var body = new byte[BufferedResponseWriter.LambdaResponseLimit + 1];

        var ex = Assert.Throws<ResponseTooLargeException>(() => BufferedResponseWriter.Write(output, ResponseShape.PayloadV2, 200,
            new HeaderDictionary { ["Content-Type"] = "application/octet-stream" }, body, new LambdaStreamingOptions()));

        Assert.Equal(0, output.WrittenCount);
        Assert.Contains("6,291,557", ex.Message, StringComparison.Ordinal);
        Assert.Contains("6,291,556", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RESPONSE_STREAM", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Base64_growth_over_the_limit_is_caught_too()
    {
        // 5 MB of binary is 6.67 MB of base64: the body fits, the document does not.
        var body = new byte[5 * 1024 * 1024];

        var ex = Assert.Throws<ResponseTooLargeException>(() => Write(ResponseShape.PayloadV2, 200, new HeaderDictionary(), body));

        Assert.Contains("JSON document", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Alb_limit_is_one_megabyte_and_the_advice_fits_alb()
    {
        var body = new byte[800 * 1024];

        var ex = Assert.Throws<ResponseTooLargeException>(() => Write(ResponseShape.AlbMultiValue, 200, new HeaderDictionary(), body));

        Assert.Contains("1,048,576", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Application Load Balancer cannot stream", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Answer_just_under_the_limit_is_written()
    {
        var body = new byte[BufferedResponseWriter.LambdaResponseLimit - 200];
        body.AsSpan().Fill((byte)'x');

        var json = Write(ResponseShape.PayloadV2, 200, new HeaderDictionary { ["Content-Type"] = "text/plain" }, body);

        Assert.Equal(body.Length, json.GetProperty("body").GetString()!.Length);
    }

    [Fact]
    public void Invalid_headers_are_rejected_as_for_the_prelude()
    {
        var output = new ArrayBufferWriter<byte>();

        Assert.Throws<InvalidOperationException>(() => BufferedResponseWriter.Write(output, ResponseShape.RestApi, 200,
            new HeaderDictionary { ["X-Bad"] = "a\r\nb" }, ReadOnlySpan<byte>.Empty, new LambdaStreamingOptions()));
        Assert.Equal(0, output.WrittenCount);
    }
}
