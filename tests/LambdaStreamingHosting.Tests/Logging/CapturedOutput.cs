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
    private readonly ManualResetEventSlim _rest = new(initialState: true);
    private int _takeInPart;

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

    /// <summary>Set once the write <see cref="TakeNextWriteInPart"/> announced has had its first half taken.</summary>
    public ManualResetEventSlim PartTaken { get; } = new();

    /// <summary>From now on, writes wait until <see cref="Open"/>.</summary>
    public void Block() => _open.Reset();

    public void Open() => _open.Set();

    /// <summary>
    /// The next write is taken in two parts, as a full pipe takes a large write: its first half at once, then (after
    /// <see cref="PartTaken"/>) the rest only after <see cref="TakeTheRest"/>; other writes meanwhile are taken at once.
    /// </summary>
    public void TakeNextWriteInPart()
    {
        _rest.Reset();
        Volatile.Write(ref _takeInPart, 1);
    }

    public void TakeTheRest() => _rest.Set();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _open.Wait();
        if (buffer.Length > 1 && Interlocked.Exchange(ref _takeInPart, 0) == 1)
        {
            Take(buffer[..(buffer.Length / 2)]);
            PartTaken.Set();
            _rest.Wait();
            buffer = buffer[(buffer.Length / 2)..];
        }

        Take(buffer);
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
            _rest.Set();
            _open.Dispose();
            _rest.Dispose();
            PartTaken.Dispose();
        }

        base.Dispose(disposing);
    }

    private void Take(ReadOnlySpan<byte> bytes)
    {
        lock (_written)
        {
            _written.Write(bytes);
            Writes++;
        }
    }
}
