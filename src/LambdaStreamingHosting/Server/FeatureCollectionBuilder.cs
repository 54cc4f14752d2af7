using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;

namespace LambdaStreamingHosting.Server;

/// <summary>Assembles the features of one invocation's request, the way Kestrel sets them for a connection.</summary>
internal static class FeatureCollectionBuilder
{
    public static FeatureCollection Build(
        Invocation invocation,
        LambdaHttpRequest request,
        ResponseFeature response,
        ResponseBodyFeature body,
        RequestLifetimeFeature lifetime,
        TimeProvider time)
    {
        var features = new FeatureCollection(12);
        var requestFeature = new RequestFeature(request);
        features.Set<IHttpRequestFeature>(requestFeature);
        features.Set<IHttpRequestBodyDetectionFeature>(requestFeature);
        features.Set<IHttpMaxRequestBodySizeFeature>(requestFeature);
        features.Set<IHttpResponseFeature>(response);
        features.Set<IHttpResponseBodyFeature>(body);
        features.Set<IHttpBodyControlFeature>(body);
        features.Set<IHttpRequestLifetimeFeature>(lifetime);
        features.Set<IHttpRequestIdentifierFeature>(new HttpRequestIdentifierFeature { TraceIdentifier = invocation.RequestId });
        features.Set<IHttpConnectionFeature>(new HttpConnectionFeature
        {
            ConnectionId = invocation.RequestId,
            RemoteIpAddress = request.RemoteIpAddress,
            RemotePort = request.RemotePort,
            LocalPort = request.LocalPort,
        });
        features.Set<ILambdaInvocationFeature>(new InvocationFeature(invocation, request.Source, time));
        if (request.User is { } user)
        {
            features.Set<IHttpAuthenticationFeature>(new HttpAuthenticationFeature { User = user });
        }

        if (request.ClientCertificate is { } certificate)
        {
            features.Set<ITlsConnectionFeature>(new TlsConnectionFeature { ClientCertificate = certificate });
        }

        return features;
    }
}
