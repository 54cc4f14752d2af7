using System.Diagnostics.CodeAnalysis;
using LambdaStreamingHosting.Events;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// The request an event describes: method, path, query, headers and a read-once, non-seekable body stream over the
/// decoded body, with Kestrel's <see cref="IHttpMaxRequestBodySizeFeature"/> (settable until the body is read).
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "The body stream is a view of the event's bytes: it holds nothing to dispose.")]
internal sealed class RequestFeature : IHttpRequestFeature, IHttpRequestBodyDetectionFeature, IHttpMaxRequestBodySizeFeature
{
    private readonly RequestBodyStream _body;

    public RequestFeature(LambdaHttpRequest request)
    {
        Protocol = request.Protocol;
        Scheme = request.Scheme;
        Method = request.Method;
        PathBase = request.PathBase;
        Path = request.Path;
        QueryString = request.QueryString;
        RawTarget = request.RawTarget;
        Headers = request.Headers;
        CanHaveBody = !request.Body.IsEmpty;
        Body = _body = new RequestBodyStream(request.Body);
    }

    public string Protocol { get; set; }

    public string Scheme { get; set; }

    public string Method { get; set; }

    public string PathBase { get; set; }

    public string Path { get; set; }

    public string QueryString { get; set; }

    public string RawTarget { get; set; }

    public IHeaderDictionary Headers { get; set; }

    public Stream Body { get; set; }

    public bool CanHaveBody { get; }

    public bool IsReadOnly => _body.ReadStarted;

    public long? MaxRequestBodySize
    {
        get => _body.MaxSize;
        set => _body.MaxSize = value;
    }
}
