using System.Buffers;
using System.Text;
using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Tests.RuntimeApi;

public class ChunkFramingTests
{
    [Theory]
    [InlineData(1L, "1")]
    [InlineData(15L, "F")]
    [InlineData(4096L, "1000")]
    [InlineData(65_536L, "10000")]
    [InlineData(0x1_0000_0000L, "100000000")]
    [InlineData(long.MaxValue, "7FFFFFFFFFFFFFFF")]
    public void A_chunk_header_has_the_hex_size_and_CRLF_and_an_empty_chunk_is_refused(long size, string hex)
    {
        var header = new byte[ChunkFraming.MaxHeaderLength];

        var length = ChunkFraming.WriteHeader(header, size);

        Assert.Equal($"{hex}\r\n", Encoding.ASCII.GetString(header, 0, length));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkFraming.WriteHeader(header, 0));
    }

    [Fact]
    public void A_failed_body_ends_with_the_error_trailers()
    {
        var output = new ArrayBufferWriter<byte>();
        var json = """{"errorMessage":"m","errorType":"T"}"""u8;

        ChunkFraming.WriteErrorEnd(output, "T", json);

        var base64 = Convert.ToBase64String(json);
        Assert.Equal($"0\r\nLambda-Runtime-Function-Error-Type: T\r\nLambda-Runtime-Function-Error-Body: {base64}\r\n\r\n", Encoding.ASCII.GetString(output.WrittenSpan));
    }

    [Fact]
    public void Error_types_cannot_inject_header_lines()
    {
        var output = new ArrayBufferWriter<byte>();
        ChunkFraming.WriteErrorEnd(output, "Bad\r\nX-Injected: 1", "{}"u8);

        var text = Encoding.ASCII.GetString(output.WrittenSpan);
        Assert.Equal(4, text.Split("\r\n").Length - 1);
        Assert.Contains("Lambda-Runtime-Function-Error-Type: Bad__X-Injected: 1\r\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_error_document_has_the_Lambda_fields()
    {
        var json = new LambdaError("My.Type", "message \"quoted\"", ["line 1", "line 2"]).ToJson();
        Assert.Equal("""{"errorMessage":"message \u0022quoted\u0022","errorType":"My.Type","stackTrace":["line 1","line 2"]}""", Encoding.UTF8.GetString(json));
    }

    [Fact]
    public void An_error_is_named_by_the_exceptions_type_and_shows_details_only_when_asked()
    {
        var exception = new InvalidOperationException("secret");
        var hidden = LambdaError.FromException(exception, includeDetails: false, "It failed.");
        var shown = LambdaError.FromException(exception, includeDetails: true, "It failed.");

        // The short type name, as Lambda's own runtimes report errors: metrics and logs can tell failures apart.
        Assert.Equal("InvalidOperationException", hidden.ErrorType);
        Assert.DoesNotContain("secret", hidden.ErrorMessage, StringComparison.Ordinal);
        Assert.Empty(hidden.StackTrace ?? []);
        Assert.Equal("InvalidOperationException", shown.ErrorType);
        Assert.Equal("secret", shown.ErrorMessage);
        Assert.NotEmpty(shown.StackTrace!);
    }
}
