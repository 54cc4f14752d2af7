using System.IO.Pipelines;
using System.Text;

namespace LambdaStreamingHosting.Callers.Tests;

public sealed class LambdaHttpResponseTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private const string Prelude = """{"statusCode":201,"headers":{"Content-Type":"text/plain","X-Count":3,"x-multi":"a, b"},"cookies":["session=abc; HttpOnly","theme=dark"]}""";

    private static byte[] Payload(string prelude, byte[] body) => [.. Encoding.UTF8.GetBytes(prelude), .. new byte[8], .. body];

    [Fact]
    public async Task The_prelude_and_body_are_read_whatever_the_payload_s_chunk_boundaries()
    {
        // The body starts with NUL bytes of its own: only the first 8 after the prelude are the delimiter.
        byte[] body = [0, 0, .. Encoding.UTF8.GetBytes("hello, streaming world")];
        var payload = Payload(Prelude, body);

        for (var split = 0; split <= payload.Length; split++)
        {
            await using var response = await LambdaHttpResponse.ReadAsync(new ChunkedStream(payload[..split], payload[split..]));

            Assert.Equal(201, response.StatusCode);
            Assert.Equal("text/plain", response.Headers["content-type"]);
            Assert.Equal("3", response.Headers["X-COUNT"]);
            Assert.Equal("a, b", response.Headers["x-multi"]);
            Assert.Equal(["session=abc; HttpOnly", "theme=dark"], response.Cookies);
            Assert.Equal(body, await ReadToEndAsync(response.Body));
        }
    }

    [Fact]
    public async Task One_byte_per_read_is_enough()
    {
        var payload = Payload(Prelude, Encoding.UTF8.GetBytes("body"));

        await using var response = await LambdaHttpResponse.ReadAsync(new ChunkedStream([.. payload.Select(b => new[] { b })]));

        Assert.Equal(201, response.StatusCode);
        Assert.Equal("body", Encoding.UTF8.GetString(await ReadToEndAsync(response.Body)));
    }

    [Fact]
    public async Task The_prelude_is_given_before_the_body_exists_and_each_part_of_the_body_as_it_arrives()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Payload("""{"statusCode":200}""", Encoding.UTF8.GetBytes("first\n")));

        await using var response = await LambdaHttpResponse.ReadAsync(pipe.Reader.AsStream()).WaitAsync(Patience);
        var buffer = new byte[64];
        var read = await response.Body.ReadAsync(buffer).AsTask().WaitAsync(Patience);
        Assert.Equal("first\n", Encoding.UTF8.GetString(buffer, 0, read));

        var next = response.Body.ReadAsync(buffer).AsTask();
        Assert.False(next.IsCompleted); // nothing more has been written
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("second\n"));
        Assert.Equal("second\n", Encoding.UTF8.GetString(buffer, 0, await next.WaitAsync(Patience)));
        await pipe.Writer.CompleteAsync();
        Assert.Equal(0, await response.Body.ReadAsync(buffer).AsTask().WaitAsync(Patience));
    }

    [Fact]
    public async Task A_failure_of_the_chunks_after_the_prelude_surfaces_when_the_body_is_read_after_every_byte_sent_before_it()
    {
        var chunks = new[] { Payload("{}", Encoding.UTF8.GetBytes("part")), Encoding.UTF8.GetBytes("ial") };
        await using var response = await LambdaHttpResponse.ReadAsync(new PayloadChunkStream(Failing(chunks, new IOException("The function failed: Runtime.UnhandledException"))));

        var body = new MemoryStream();
        var failure = await Assert.ThrowsAsync<IOException>(() => response.Body.CopyToAsync(body));

        Assert.Equal("partial", Encoding.UTF8.GetString(body.ToArray()));
        Assert.Contains("Runtime.UnhandledException", failure.Message, StringComparison.Ordinal);

        static async IAsyncEnumerable<ReadOnlyMemory<byte>> Failing(byte[][] chunks, Exception failure)
        {
            foreach (var chunk in chunks)
            {
                await Task.Yield();
                yield return chunk;
            }

            throw failure;
        }
    }

    [Fact]
    public async Task A_PayloadChunkStream_takes_a_chunk_only_when_the_reader_has_used_up_the_previous_one()
    {
        var taken = 0;
        await using var stream = new PayloadChunkStream(Counted());
        var buffer = new byte[4];

        Assert.Equal(0, taken);
        Assert.Equal(4, await stream.ReadAsync(buffer));
        Assert.Equal(1, taken);
        Assert.Equal(2, await stream.ReadAsync(buffer)); // the rest of the first chunk, without taking the second
        Assert.Equal(1, taken);
        Assert.Equal(3, await stream.ReadAsync(buffer));
        Assert.Equal(3, taken); // the empty chunk is skipped
        Assert.Equal(0, await stream.ReadAsync(buffer));
        Assert.Equal("abcdefghi", "abcd" + "ef" + Encoding.UTF8.GetString(buffer, 0, 3));

        async IAsyncEnumerable<ReadOnlyMemory<byte>> Counted()
        {
            foreach (var chunk in new[] { "abcdef", "", "ghi" })
            {
                await Task.Yield();
                taken++;
                yield return Encoding.UTF8.GetBytes(chunk);
            }
        }
    }

    [Fact]
    public async Task A_prelude_without_status_headers_or_cookies_is_a_200_with_none_and_REST_multi_value_headers_are_joined()
    {
        await using (var bare = await LambdaHttpResponse.ReadAsync(new MemoryStream(Payload("{}", []))))
        {
            Assert.Equal(200, bare.StatusCode);
            Assert.Empty(bare.Headers);
            Assert.Empty(bare.Cookies);
            Assert.Empty(await ReadToEndAsync(bare.Body));
        }

        await using var rest = await LambdaHttpResponse.ReadAsync(new MemoryStream(Payload(
            """{"statusCode":"404","headers":{"Vary":"Accept"},"multiValueHeaders":{"vary":["Origin"],"X-A":["1","2"]}}""", [])));
        Assert.Equal(404, rest.StatusCode);
        Assert.Equal("Accept, Origin", rest.Headers["Vary"]);
        Assert.Equal("1, 2", rest.Headers["x-a"]);
    }

    [Theory]
    [InlineData("", "The payload is empty")]
    [InlineData("{\"statusCode\":200}", "ended after 18 bytes without the 8 NUL bytes that end the prelude")]
    [InlineData("hello, this is not a prelude", "without the 8 NUL bytes")]
    public async Task A_payload_without_a_prelude_end_is_refused_with_what_it_starts_with(string text, string expected)
    {
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => LambdaHttpResponse.ReadAsync(new MemoryStream(Encoding.UTF8.GetBytes(text))));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains(text, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json", "The prelude is not valid JSON")]
    [InlineData("[1,2]", "must be a JSON object")]
    [InlineData("{\"statusCode\":200} trailing", "bytes after its JSON object")]
    [InlineData("{\"statusCode\":700}", "statusCode must be a number from 100 to 599, not 700")]
    [InlineData("{\"statusCode\":\"OK\"}", "statusCode must be a number from 100 to 599, not \"OK\"")]
    [InlineData("{\"statusCode\":200.5}", "statusCode must be a number from 100 to 599")]
    [InlineData("{\"headers\":[\"a\"]}", "headers must be an object of strings, not Array")]
    [InlineData("{\"headers\":{\"X\":{\"nested\":1}}}", "header 'X' must be a string, not Object")]
    [InlineData("{\"multiValueHeaders\":{\"X\":\"one\"}}", "multiValueHeaders['X'] must be an array of strings")]
    [InlineData("{\"cookies\":\"a=b\"}", "cookies must be an array of strings")]
    [InlineData("{\"cookies\":[1]}", "cookies must be an array of strings")]
    public async Task A_malformed_prelude_is_refused_with_what_is_wrong(string prelude, string expected)
    {
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => LambdaHttpResponse.ReadAsync(new MemoryStream(Payload(prelude, []))));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_payload_with_no_prelude_end_in_its_first_MiB_is_refused_without_reading_it_all()
    {
        var endless = new EndlessStream((byte)'a');

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => LambdaHttpResponse.ReadAsync(endless));

        Assert.Contains($"No prelude end (8 NUL bytes) in the first {LambdaHttpResponse.MaxPreludeBytes} bytes", error.Message, StringComparison.Ordinal);
        Assert.InRange(endless.BytesRead, LambdaHttpResponse.MaxPreludeBytes, 3 * LambdaHttpResponse.MaxPreludeBytes);
    }

    [Fact]
    public async Task Disposing_the_response_disposes_the_payload()
    {
        var payload = new ChunkedStream(Payload("{}", [1, 2, 3]));
        var response = await LambdaHttpResponse.ReadAsync(payload);

        await response.DisposeAsync();

        Assert.True(payload.Disposed);
    }

    private static async Task<byte[]> ReadToEndAsync(Stream body)
    {
        using var copy = new MemoryStream();
        await body.CopyToAsync(copy);
        return copy.ToArray();
    }

    /// <summary>A payload that arrives in the given pieces: each read returns at most the rest of the current piece.</summary>
    private sealed class ChunkedStream(params byte[][] pieces) : Stream
    {
        private int _piece;
        private int _offset;

        public bool Disposed { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            while (_piece < pieces.Length && _offset == pieces[_piece].Length)
            {
                _piece++;
                _offset = 0;
            }

            if (_piece == pieces.Length || count == 0)
            {
                return 0;
            }

            var n = Math.Min(count, pieces[_piece].Length - _offset);
            Array.Copy(pieces[_piece], _offset, buffer, offset, n);
            _offset += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }

    /// <summary>A payload that never ends, of one byte value.</summary>
    private sealed class EndlessStream(byte value) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Fill(buffer, value, offset, count);
            BytesRead += count;
            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
