namespace LambdaStreamingHosting.Events;

/// <summary>How a front end wants its answer shaped (prelude or buffered JSON).</summary>
internal enum ResponseShape
{
    /// <summary>Payload 2.0 (Function URL, HTTP API): single-value <c>headers</c> plus <c>cookies</c>.</summary>
    PayloadV2,

    /// <summary>API Gateway REST (payload 1.0): <c>multiValueHeaders</c> (Set-Cookie kept one per value).</summary>
    RestApi,

    /// <summary>ALB target group without multi-value headers: <c>headers</c> plus <c>statusDescription</c>.</summary>
    AlbSingleValue,

    /// <summary>ALB target group with multi-value headers enabled: <c>multiValueHeaders</c> plus <c>statusDescription</c>.</summary>
    AlbMultiValue,
}
