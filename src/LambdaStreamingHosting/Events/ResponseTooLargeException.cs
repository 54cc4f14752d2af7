namespace LambdaStreamingHosting.Events;

/// <summary>A buffered response is larger than the front end accepts (reported as <see cref="LambdaErrorTypes.ResponseTooLarge"/>).</summary>
internal sealed class ResponseTooLargeException : Exception
{
    public ResponseTooLargeException(string message) : base(message)
    {
    }

    /// <summary>The exception for a response of <paramref name="size"/> bytes, telling the user what to change.</summary>
    public static ResponseTooLargeException For(ResponseShape shape, long size, int limit, bool bodyOnly)
    {
        var what = bodyOnly ? "body alone" : "JSON document";
        var fix = shape switch
        {
            ResponseShape.AlbSingleValue or ResponseShape.AlbMultiValue =>
                "An Application Load Balancer cannot stream: send less (paginate, or return a link to the content in S3), or serve this route from a Function URL with InvokeMode RESPONSE_STREAM.",
            ResponseShape.RestApi =>
                "Send less, or stream: set the REST API integration's responseTransferMode to STREAM and LambdaStreaming:InvokeMode to ResponseStream.",
            _ =>
                "Send less, or stream: set the Function URL's InvokeMode to RESPONSE_STREAM and LambdaStreaming:InvokeMode to ResponseStream (HTTP APIs cannot stream: use a Function URL).",
        };
        return new ResponseTooLargeException(
            $"The buffered response's {what} is {size:N0} bytes, over the {limit:N0}-byte limit of the front end; nothing was sent. {fix}");
    }
}
