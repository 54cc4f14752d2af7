using System.Text;

namespace LambdaStreamingHosting.Tests.Logging;

/// <summary>
/// A stand-in for standard output: keeps what was written, and can hold writers back (as a pipe nobody reads does)
/// until the test lets them go.
/// </summary>
internal sealed class CapturedOutput : Stream
{
    private readonly MemoryStream _written = new();
    private readonly ManualResetEventSlim _open = new(initialState: true);

    /// <summary>How many writes the output received (each one a system call on a real standard output).</summary>
    public int Writes { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public string Text
    {
        get
        {
            lock (_written)
            {
                return Encoding.UTF8.GetString(_written.GetBuffer(), 0, (int)_written.Length);
            }
        }
    }

    public string[] Lines => Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>From now on, writes wait until <see cref="Open"/>.</summary>
    public void Block() => _open.Reset();

    public void Open() => _open.Set();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _open.Wait();
        lock (_written)
        {
            _written.Write(buffer);
            Writes++;
        }
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _open.Set();
            _open.Dispose();
        }

        base.Dispose(disposing);
    }
}
