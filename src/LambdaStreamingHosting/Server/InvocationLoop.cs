using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// One invocation loop: <c>/next</c>, the request through the app, the answer, then the next. The invocation ends
/// when the response ended: the last chunk is on the wire and its reply read before the <c>OnCompleted</c>
/// callbacks and request-scope disposal, all before the next <c>/next</c>. Several loops run side by side under
/// Lambda Managed Instances; everything per invocation lives in this method's locals and the request's features.
/// </summary>
internal sealed class InvocationLoop<TContext>
    where TContext : notnull
{
    /// <summary>The <c>errorType</c> of an event whose mapping failed unexpectedly.</summary>
    public const string EventMappingFailedErrorType = "LambdaStreaming.EventMappingFailed";

    private const string TraceIdVariable = "_X_AMZN_TRACE_ID";
    private readonly LambdaServer _server;
    private readonly IHttpApplication<TContext> _application;
    private readonly RuntimeApiClient _client;
    private readonly ILogger _logger;

    public InvocationLoop(LambdaServer server, IHttpApplication<TContext> application, RuntimeApiClient client, ILogger logger)
    {
        _server = server;
        _application = application;
        _client = client;
        _logger = logger;
    }

    /// <summary>Serves invocations until <paramref name="stopping"/> is signalled; Runtime API failures propagate.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        var oneAtATime = _server.Concurrency == 1;
        DateTimeOffset? previousEnd = null;
        while (!stopping.IsCancellationRequested)
        {
            var invocation = await _client.NextAsync(stopping).ConfigureAwait(false);
            if (oneAtATime && previousEnd is { } end)
            {
                await _server.ObserveAsync("OnThawAsync", ct => _server.Lifecycle.ThawAsync(_server.Time.GetUtcNow() - end, ct), stopping).ConfigureAwait(false);
            }

            await HandleAsync(invocation, oneAtATime).ConfigureAwait(false);
            previousEnd = _server.Time.GetUtcNow();
            if (oneAtATime)
            {
                await _server.ObserveAsync("OnFreezingAsync", _server.Lifecycle.FreezingAsync, stopping).ConfigureAwait(false);
            }
        }
    }

    private async Task HandleAsync(Invocation invocation, bool oneAtATime)
    {
        var options = _server.Options;
        using var scope = Log.InvocationScope(_logger, invocation.RequestId);
        if (oneAtATime && _server.Settings.SetTraceIdEnvironmentVariable)
        {
            Environment.SetEnvironmentVariable(TraceIdVariable, invocation.TraceId);
        }

        LambdaHttpRequest request;
        try
        {
            request = EventMapper.Map(invocation.Event, options);
        }
        catch (Exception ex) when (ex is InvalidEventException or not RuntimeApiFatalException)
        {
            // A mapping failure (even an unexpected one) costs this invocation only; the loop goes on.
            var error = ex is InvalidEventException invalid
                ? new LambdaError(invalid.ErrorType, invalid.Message)
                : new LambdaError(EventMappingFailedErrorType, "The event could not be mapped to a request: " + ex.Message);
            Log.InvalidEvent(_logger, error.ErrorType, error.ErrorMessage);
            var reply = await _client.PostErrorAsync(invocation.RequestId, error, CancellationToken.None).ConfigureAwait(false);
            LogUnexpected(reply, "/error");
            return;
        }

        var streaming = options.InvokeMode == LambdaInvokeMode.ResponseStream && CanStream(request.Source);
        if (options.InvokeMode == LambdaInvokeMode.ResponseStream && !streaming)
        {
            _server.WarnCannotStream(request.Source);
        }

        var response = new ResponseFeature();
        ResponseBodyFeature body = streaming
            ? new StreamingResponseBodyFeature(response, await _client.BeginStreamingResponseAsync(invocation.RequestId, CancellationToken.None).ConfigureAwait(false), request.ResponseShape, request.Method, options, _logger)
            : new BufferedResponseBodyFeature(response, _client, invocation.RequestId, request.ResponseShape, request.Method, options, _logger);
        using var lifetime = new RequestLifetimeFeature(invocation.Deadline, options.DeadlineMargin, _server.Time, body.Abort);
        body.ConnectionLost = lifetime.ConnectionLost;
        try
        {
            var features = FeatureCollectionBuilder.Build(invocation, request, response, body, lifetime, _server.Time);
            var context = _application.CreateContext(features);
            Exception? error = null;
            try
            {
                await _application.ProcessRequestAsync(context).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Whatever the app throws is reported to Lambda, never allowed to stop the loop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                error = ex;
                LogApplicationError(ex, response.HasStarted);
            }

            if (lifetime.AbortRequested)
            {
                Log.RequestAborted(_logger);
            }

            var reply = await body.FinishAsync(error, lifetime.AbortRequested, CancellationToken.None).ConfigureAwait(false);
            LogUnexpected(reply, "/response");
            await response.FireOnCompletedAsync(_logger).ConfigureAwait(false);
            _application.DisposeContext(context, error);
        }
        finally
        {
            body.Dispose();
        }
    }

    /// <summary>Function URLs and REST APIs stream; HTTP APIs and load balancers only ever invoke buffered.</summary>
    private static bool CanStream(LambdaEventSource source) => source is not (LambdaEventSource.HttpApi or LambdaEventSource.ApplicationLoadBalancer);

    private void LogApplicationError(Exception exception, bool started)
    {
        if (exception is ResponseTooLargeException tooLarge)
        {
            Log.ResponseTooLarge(_logger, tooLarge.Message);
        }
        else if (started)
        {
            Log.ApplicationErrorAfterStart(_logger, exception);
        }
        else
        {
            Log.ApplicationError(_logger, exception);
        }
    }

    private void LogUnexpected(RuntimeApiReply? reply, string request)
    {
        if (reply is { IsSuccess: false })
        {
            Log.UnexpectedReply(_logger, request, reply.ToString());
        }
    }
}
