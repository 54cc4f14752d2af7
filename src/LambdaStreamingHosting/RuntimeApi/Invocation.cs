using System.Buffers;
using System.Buffers.Text;
using System.Text;
using LambdaStreamingHosting.Buffers;

namespace LambdaStreamingHosting.RuntimeApi;

/// <summary>
/// The invocation an invocation loop is serving: the headers of its <c>/next</c> reply and its raw event bytes. One
/// instance per loop, refilled by every <see cref="RuntimeApiClient.NextAsync"/> (<see cref="Reset"/>, then the reply
/// read into it); <see cref="Release"/> lets its event bytes go when the invocation is over, so they are valid only in
/// between. Header values that may repeat from one invocation to the next (the function ARN, client context, Cognito
/// identity, tenant) keep their string when their bytes did not change instead of decoding a new one.
/// </summary>
internal sealed class Invocation : IDisposable
{
    private readonly PooledBuffer _event = new();
    private Present _present;
    private string _requestId = "";
    private DateTimeOffset _deadline = DateTimeOffset.MaxValue;
    private string? _invokedFunctionArn;
    private byte[] _traceIdBytes = [];
    private int _traceIdLength;
    private string? _traceId;
    private string? _clientContext;
    private string? _cognitoIdentity;
    private string? _tenantId;
    private string? _invocationId;
    private bool _invocationIdIgnored;

    [Flags]
    private enum Present
    {
        None = 0,
        InvokedFunctionArn = 1,
        TraceId = 2,
        ClientContext = 4,
        CognitoIdentity = 8,
        TenantId = 16,
    }

    public string RequestId => _requestId;

    /// <summary>When Lambda stops the invocation; <see cref="DateTimeOffset.MaxValue"/> when the header is missing.</summary>
    public DateTimeOffset Deadline => _deadline;

    public string InvokedFunctionArn => Has(Present.InvokedFunctionArn) ? _invokedFunctionArn! : "";

    /// <summary>
    /// The X-Ray trace header, decoded when first asked for (it is new with every invocation, and unused unless asked
    /// for: by the app, the <c>_X_AMZN_TRACE_ID</c> variable, <c>ContinueXRayTrace</c> or a Lambda log entry).
    /// </summary>
    public string? TraceId => Has(Present.TraceId) ? _traceId ??= Encoding.Latin1.GetString(_traceIdBytes, 0, _traceIdLength) : null;

    public string? ClientContext => Has(Present.ClientContext) ? _clientContext : null;

    public string? CognitoIdentity => Has(Present.CognitoIdentity) ? _cognitoIdentity : null;

    public string? TenantId => Has(Present.TenantId) ? _tenantId : null;

    /// <summary>
    /// This delivery's <c>Lambda-Runtime-Invocation-Id</c>, which its answers (<c>/response</c>, <c>/error</c>) carry
    /// back so the Runtime API can refuse them once a newer delivery took the request id; <see langword="null"/> when
    /// <c>/next</c> sent none, or a value that is not a printable token (see <see cref="InvocationIdIgnored"/>).
    /// </summary>
    public string? InvocationId => _invocationId;

    /// <summary>Whether <c>/next</c> sent a <c>Lambda-Runtime-Invocation-Id</c> that is not a printable token (it is not echoed).</summary>
    public bool InvocationIdIgnored => _invocationIdIgnored;

    /// <summary>The raw event: valid until <see cref="Release"/>.</summary>
    public ReadOnlyMemory<byte> Event => _event.WrittenMemory;

    /// <summary>Where the reply parser writes the event.</summary>
    internal IBufferWriter<byte> EventWriter => _event;

    /// <summary>Forgets the previous invocation before a new <c>/next</c> reply is read into this one.</summary>
    internal void Reset()
    {
        _event.Release();
        _present = Present.None;
        _requestId = "";
        _traceId = null;
        _deadline = DateTimeOffset.MaxValue;
        _invocationId = null;
        _invocationIdIgnored = false;
    }

    /// <summary>Takes one header of the <c>/next</c> reply (names compared case-insensitively; others are ignored).</summary>
    internal void AddHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (Ascii.EqualsIgnoreCase(name, "Lambda-Runtime-Aws-Request-Id"u8))
        {
            _requestId = Encoding.Latin1.GetString(value);
        }
        else if (Ascii.EqualsIgnoreCase(name, "Lambda-Runtime-Deadline-Ms"u8))
        {
            _deadline = Utf8Parser.TryParse(value, out ulong ms, out var used) && used == value.Length
                && ms <= (ulong)DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
                ? DateTimeOffset.FromUnixTimeMilliseconds((long)ms)
                : DateTimeOffset.MaxValue;
        }
        else if (Ascii.EqualsIgnoreCase(name, "Lambda-Runtime-Invoked-Function-Arn"u8))
        {
            Keep(ref _invokedFunctionArn, value, Present.InvokedFunctionArn);
        }
        else if (Ascii.EqualsIgnoreCase(name, "Lambda-Runtime-Trace-Id"u8))
        {
            if (value.Length > _traceIdBytes.Length)
            {
                _traceIdBytes = new byte[Math.Max(value.Length, 128)];
            }

            value.CopyTo(_traceIdBytes);
            _traceIdLength = value.Length;
            _traceId = null;
            _present |= Present.TraceId;
        }
        else if (Ascii.EqualsIgnoreCase(name, "Lambda-Runtime-Client-Context"u8))
        {
            Keep(ref _clientContext, value, Present.ClientContext);
        }
        else if (Ascii.EqualsIgnoreCase(name, "Lambda-Runtime-Cognito-Identity"u8))
        {
            Keep(ref _cognitoIdentity, value, Present.CognitoIdentity);
        }
        else if (Ascii.EqualsIgnoreCase(name, "Lambda-Runtime-Aws-Tenant-Id"u8))
        {
            Keep(ref _tenantId, value, Present.TenantId);
        }
        else if (Ascii.EqualsIgnoreCase(name, "Lambda-Runtime-Invocation-Id"u8))
        {
            // It goes back into request heads: anything but a printable token (a CR or LF above all) stays out.
            var token = IsPrintableToken(value);
            _invocationId = token ? Encoding.ASCII.GetString(value) : null;
            _invocationIdIgnored = !token;
        }
    }

    /// <summary>The longest <c>Lambda-Runtime-Invocation-Id</c> echoed.</summary>
    internal const int MaxInvocationIdLength = 1024;

    /// <summary>Whether <paramref name="value"/> is 1 to <see cref="MaxInvocationIdLength"/> visible ASCII characters (no space, no control character).</summary>
    internal static bool IsPrintableToken(ReadOnlySpan<byte> value) =>
        value.Length is > 0 and <= MaxInvocationIdLength && !value.ContainsAnyExceptInRange((byte)0x21, (byte)0x7E);

    /// <summary>Checks that the reply just read can be answered.</summary>
    /// <exception cref="RuntimeApiFatalException">The reply has no request id: nothing could answer it.</exception>
    internal void ThrowIfIncomplete()
    {
        if (string.IsNullOrWhiteSpace(_requestId))
        {
            throw new RuntimeApiFatalException("The Runtime API handed out an invocation without a Lambda-Runtime-Aws-Request-Id header.");
        }
    }

    /// <summary>The invocation is over: its event bytes are let go (see <see cref="PooledBuffer"/> for what stays allocated).</summary>
    public void Release() => _event.Release();

    public void Dispose() => _event.Dispose();

    private bool Has(Present header) => (_present & header) != 0;

    /// <summary>Sets <paramref name="field"/> to the Latin-1 text of <paramref name="value"/>, keeping its string when the text did not change.</summary>
    private void Keep(ref string? field, ReadOnlySpan<byte> value, Present header)
    {
        if (field is null || !Ascii.Equals(value, field))
        {
            field = Encoding.Latin1.GetString(value);
        }

        _present |= header;
    }
}
