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
/// The request side of an invocation as features, on one object per invocation loop that serves every invocation (as
/// Kestrel's <c>HttpProtocol</c> implements its features itself). What the event said is read from
/// <see cref="Request"/>, the request each event is mapped into, and what the app sets (a path middleware rewrites, the
/// scheme a forwarded-headers middleware finds, the user, the remote address) is written there too, so each value has
/// one place for its invocation; <see cref="Release"/> empties it. The features add their own: a read-once, non-seekable
/// body stream and Kestrel's <see cref="IHttpMaxRequestBodySizeFeature"/> (settable until the body is read), headers or
/// a body or trace identifier the app put in place of the request's, the Lambda invocation, and the endpoint and route
/// values routing sets. The caller's identity and client certificate are offered only when the event has them.
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
    private readonly Invocation _invocation;
    private readonly LambdaHttpRequest _request = new();
    private readonly TimeProvider _time;
    private RequestBodyStream _body = new();
    private bool _bodyHandedOut;

    // What the app put in place of the request's own, for the current invocation only.
    private IHeaderDictionary? _replacedHeaders;
    private Stream? _replacedBody;
    private string? _traceIdentifier;
    private string? _connectionId;
    private RouteValueDictionary? _routeValues;

    public RequestFeatures(Invocation invocation, TimeProvider time)
    {
        _invocation = invocation;
        _time = time;
    }

    /// <summary>The request each of the loop's events is mapped into (and what the app changed of it), until <see cref="Release"/>.</summary>
    public LambdaHttpRequest Request => _request;

    public string Protocol { get => _request.Protocol; set => _request.Protocol = value; }

    public string Scheme { get => _request.Scheme; set => _request.Scheme = value; }

    public string Method { get => _request.Method; set => _request.Method = value; }

    public string PathBase { get => _request.PathBase; set => _request.PathBase = value; }

    public string Path { get => _request.Path; set => _request.Path = value; }

    public string QueryString { get => _request.QueryString; set => _request.QueryString = value; }

    /// <summary>The request's raw target (joined only when read).</summary>
    public string RawTarget { get => _request.RawTarget; set => _request.RawTarget = value; }

    public IHeaderDictionary Headers
    {
        get => _replacedHeaders ?? _request.Headers;
        set => _replacedHeaders = value;
    }

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

    public bool CanHaveBody => !_request.Body.IsEmpty;

    public bool IsReadOnly => _body.ReadStarted;

    public long? MaxRequestBodySize
    {
        get => _body.MaxSize;
        set => _body.MaxSize = value;
    }

    /// <summary>The invocation's request id, unless the app set another.</summary>
    public string TraceIdentifier
    {
        get => _traceIdentifier ?? _invocation.RequestId;
        set => _traceIdentifier = value;
    }

    /// <summary>The invocation's request id, unless the app set another.</summary>
    public string ConnectionId
    {
        get => _connectionId ?? _invocation.RequestId;
        set => _connectionId = value;
    }

    public IPAddress? RemoteIpAddress { get => _request.RemoteIpAddress; set => _request.RemoteIpAddress = value; }

    /// <summary>Never known from an event; what the app set, for its invocation.</summary>
    public IPAddress? LocalIpAddress { get; set; }

    public int RemotePort { get => _request.RemotePort; set => _request.RemotePort = value; }

    public int LocalPort { get => _request.LocalPort; set => _request.LocalPort = value; }

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

    /// <summary>Whether the loop this belongs to runs warm-up requests (see <c>WarmUpRunner</c>).</summary>
    public bool IsWarmUp { get; init; }

    public LambdaEventSource EventSource => _request.Source;

    public ReadOnlyMemory<byte> RawEvent => _invocation.Event;

    public ClaimsPrincipal? User { get => _request.User; set => _request.User = value; }

    public X509Certificate2? ClientCertificate { get => _request.ClientCertificate; set => _request.ClientCertificate = value; }

    public Endpoint? Endpoint { get; set; }

    public RouteValueDictionary RouteValues
    {
        get => _routeValues ??= new();
        set => _routeValues = value;
    }

    /// <summary>
    /// Readies the body stream for the request just mapped into <see cref="Request"/>; <paramref name="bodyControl"/>
    /// says whether synchronous body reads are allowed.
    /// </summary>
    public void Reset(IHttpBodyControlFeature bodyControl) => _body.Reset(_request.Body, bodyControl);

    /// <summary>
    /// The invocation is over: <see cref="Request"/> is emptied and what the app set is forgotten, so nothing of the
    /// request, its event bytes included, stays referenced.
    /// </summary>
    public void Release()
    {
        _request.Release();
        if (_bodyHandedOut)
        {
            _body.End();
            _body = new RequestBodyStream();
            _bodyHandedOut = false;
        }

        _body.Release();
        _replacedHeaders = null;
        _replacedBody = null;
        _traceIdentifier = _connectionId = null;
        LocalIpAddress = null;
        Endpoint = null;
        _routeValues = null;
    }

    public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);
}
