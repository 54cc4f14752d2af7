using LambdaStreamingHosting.Events;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Server;

/// <summary>The request an event describes: method, path, query, headers and a read-once, non-seekable body stream over the decoded body.</summary>
internal sealed class RequestFeature : IHttpRequestFeature, IHttpRequestBodyDetectionFeature
{
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
        Body = new RequestBodyStream(request.Body);
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
}
