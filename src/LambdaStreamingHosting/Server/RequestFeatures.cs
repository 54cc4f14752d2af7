using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Security.Claims;
using System.Security.Cryptography.X509Certificates;
using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.AspNetCore.Routing;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// The request side of an invocation as features, on one object per invocation loop that is refilled for every
/// invocation (as Kestrel's <c>HttpProtocol</c> implements its features itself): the request an event describes with
/// a read-once, non-seekable body stream and Kestrel's <see cref="IHttpMaxRequestBodySizeFeature"/> (settable until
/// the body is read), the trace identifier, the connection, the Lambda invocation, and the endpoint and route values
/// routing sets. The caller's identity and client certificate are offered only when the event has them.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "The body stream is a view of the event's bytes: it holds nothing to dispose.")]
internal sealed class RequestFeatures :
    IHttpRequestFeature,
    IHttpRequestBodyDetectionFeature,
    IHttpMaxRequestBodySizeFeature,
    IHttpRequestIdentifierFeature,
    IHttpConnectionFeature,
    ILambdaInvocationFeature,
    IHttpAuthenticationFeature,
    ITlsConnectionFeature,
    IEndpointFeature,
    IRouteValuesFeature
{
    private static readonly HeaderDictionary NoHeaders = new() { IsReadOnly = true };
    private RequestBodyStream _body = new();
    private Stream? _replacedBody;
    private bool _bodyHandedOut;
    private readonly Invocation _invocation;
    private readonly TimeProvider _time;
    private RouteValueDictionary? _routeValues;
    private LambdaHttpRequest? _current;
    private string? _rawTarget;

    public RequestFeatures(Invocation invocation, TimeProvider time)
    {
        _invocation = invocation;
        _time = time;
        Reset();
    }

    public string Protocol { get; set; } = "";

    public string Scheme { get; set; } = "";

    public string Method { get; set; } = "";

    public string PathBase { get; set; } = "";

    public string Path { get; set; } = "";

    public string QueryString { get; set; } = "";

    /// <summary>The request's raw target (joined only when read), unless the app set one.</summary>
    public string RawTarget
    {
        get => _rawTarget ?? _current?.RawTarget ?? "";
        set => _rawTarget = value;
    }

    public IHeaderDictionary Headers { get; set; } = NoHeaders;

    /// <summary>
    /// The body stream, or the one the app put in its place. The loop's stream is reused until the app takes it: one
    /// handed out is ended with its invocation (a new one serves the next), so a stream an app kept can never read a
    /// later invocation's body.
    /// </summary>
    public Stream Body
    {
        get
        {
            if (_replacedBody is not null)
            {
                return _replacedBody;
            }

            _bodyHandedOut = true;
            return _body;
        }

        set => _replacedBody = value;
    }

    public bool CanHaveBody { get; private set; }

    public bool IsReadOnly => _body.ReadStarted;

    public long? MaxRequestBodySize
    {
        get => _body.MaxSize;
        set => _body.MaxSize = value;
    }

    public string TraceIdentifier { get; set; } = "";

    public string ConnectionId { get; set; } = "";

    public IPAddress? RemoteIpAddress { get; set; }

    public IPAddress? LocalIpAddress { get; set; }

    public int RemotePort { get; set; }

    public int LocalPort { get; set; }

    public string AwsRequestId => _invocation.RequestId;

    public DateTimeOffset Deadline => _invocation.Deadline;

    public TimeSpan RemainingTime
    {
        get
        {
            var left = Deadline - _time.GetUtcNow();
            return left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
    }

    public string InvokedFunctionArn => _invocation.InvokedFunctionArn;

    public string? TraceId => _invocation.TraceId;

    public string? ClientContext => _invocation.ClientContext;

    public string? CognitoIdentity => _invocation.CognitoIdentity;

    public string? TenantId => _invocation.TenantId;

    public LambdaEventSource EventSource { get; private set; }

    public ReadOnlyMemory<byte> RawEvent => _invocation.Event;

    public ClaimsPrincipal? User { get; set; }

    public X509Certificate2? ClientCertificate { get; set; }

    public Endpoint? Endpoint { get; set; }

    public RouteValueDictionary RouteValues
    {
        get => _routeValues ??= new();
        set => _routeValues = value;
    }

    /// <summary>
    /// Fills the features with the invocation's request (the invocation itself was read into the loop's
    /// <see cref="Invocation"/>); <paramref name="bodyControl"/> says whether synchronous body reads are allowed.
    /// </summary>
    public void Start(LambdaHttpRequest request, IHttpBodyControlFeature bodyControl)
    {
        Protocol = request.Protocol;
        Scheme = request.Scheme;
        Method = request.Method;
        PathBase = request.PathBase;
        Path = request.Path;
        QueryString = request.QueryString;
        _current = request;
        _rawTarget = null;
        Headers = request.Headers;
        CanHaveBody = !request.Body.IsEmpty;
        _body.Reset(request.Body, bodyControl);
        _replacedBody = null;
        TraceIdentifier = ConnectionId = _invocation.RequestId;
        RemoteIpAddress = request.RemoteIpAddress;
        RemotePort = request.RemotePort;
        LocalPort = request.LocalPort;
        EventSource = request.Source;
        User = request.User;
        ClientCertificate = request.ClientCertificate;
    }

    /// <summary>Forgets the request (the invocation is over): nothing of it, its event bytes included, stays referenced.</summary>
    public void Reset()
    {
        Protocol = Scheme = Method = PathBase = Path = QueryString = TraceIdentifier = ConnectionId = "";
        _current = null;
        _rawTarget = null;
        Headers = NoHeaders;
        CanHaveBody = false;
        if (_bodyHandedOut)
        {
            _body.End();
            _body = new RequestBodyStream();
            _bodyHandedOut = false;
        }

        _body.Reset(default, bodyControl: null);
        _replacedBody = null;
        RemoteIpAddress = LocalIpAddress = null;
        RemotePort = LocalPort = 0;
        EventSource = LambdaEventSource.Auto;
        User = null;
        ClientCertificate = null;
        Endpoint = null;
        _routeValues = null;
    }

    public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);
}
