using System.Buffers;
using System.Text;
using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Tests.RuntimeApi;

public class ChunkFramingTests
{
    [Theory]
    [InlineData(1, "1")]
    [InlineData(15, "F")]
    [InlineData(16, "10")]
    [InlineData(255, "FF")]
    [InlineData(4096, "1000")]
    [InlineData(65535, "FFFF")]
    public void A_chunk_is_framed_in_place_with_its_hex_size(int size, string hex)
    {
        var buffer = new byte[ChunkFraming.HeaderReserve + size + ChunkFraming.TrailerReserve];
        buffer.AsSpan(ChunkFraming.HeaderReserve, size).Fill((byte)'d');

        var (offset, length) = ChunkFraming.FrameInPlace(buffer, ChunkFraming.HeaderReserve, size, appendEnd: false);

        Assert.Equal($"{hex}\r\n{new string('d', size)}\r\n", Encoding.ASCII.GetString(buffer, offset, length));
    }

    [Theory]
    [InlineData(1L, "1")]
    [InlineData(65_536L, "10000")]
    [InlineData(0x1_0000_0000L, "100000000")]
    [InlineData(long.MaxValue, "7FFFFFFFFFFFFFFF")]
    public void A_chunk_header_for_data_sent_as_it_is_has_the_hex_size_and_CRLF(long size, string hex)
    {
        var header = new byte[ChunkFraming.MaxHeaderLength];

        var length = ChunkFraming.WriteHeader(header, size);

        Assert.Equal($"{hex}\r\n", Encoding.ASCII.GetString(header, 0, length));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkFraming.WriteHeader(header, 0));
    }

    [Fact]
    public void The_last_chunk_can_follow_the_data_in_the_same_write()
    {
        var buffer = new byte[ChunkFraming.HeaderReserve + 3 + ChunkFraming.TrailerReserve];
        "abc"u8.CopyTo(buffer.AsSpan(ChunkFraming.HeaderReserve));

        var (offset, length) = ChunkFraming.FrameInPlace(buffer, ChunkFraming.HeaderReserve, 3, appendEnd: true);

        Assert.Equal("3\r\nabc\r\n0\r\n\r\n", Encoding.ASCII.GetString(buffer, offset, length));
    }

    [Fact]
    public void An_empty_chunk_is_refused_because_it_would_end_the_body()
    {
        var buffer = new byte[32];
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkFraming.FrameInPlace(buffer, ChunkFraming.HeaderReserve, 0, appendEnd: false));
    }

    [Fact]
    public void A_chunk_without_room_for_its_framing_is_refused()
    {
        var buffer = new byte[ChunkFraming.HeaderReserve + 4];
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkFraming.FrameInPlace(buffer, ChunkFraming.HeaderReserve, 4, appendEnd: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkFraming.FrameInPlace(buffer, 2, 1, appendEnd: false));
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
    public void An_exception_shows_no_details_unless_asked()
    {
        var exception = new InvalidOperationException("secret");
        var hidden = LambdaError.FromException(exception, includeDetails: false, "It failed.");
        var shown = LambdaError.FromException(exception, includeDetails: true, "It failed.");

        Assert.Equal(LambdaError.UnhandledErrorType, hidden.ErrorType);
        Assert.DoesNotContain("secret", hidden.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal("System.InvalidOperationException", shown.ErrorType);
        Assert.Equal("secret", shown.ErrorMessage);
    }
}
