using System.Diagnostics;
using System.Runtime.CompilerServices;
using LambdaStreamingHosting.Events;
using LambdaStreamingHosting.Logging;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// One invocation loop: <c>/next</c>, the request through the app, the answer, then the next. The invocation ends
/// when the response ended: the last chunk is on the wire and its reply read before the <c>OnCompleted</c>
/// callbacks and request-scope disposal, all before the next <c>/next</c>. Several loops run side by side under
/// Lambda Managed Instances. Like a Kestrel connection, a loop reuses its per-request objects from one invocation to
/// the next (the invocation and its event buffer, the request the event is mapped into and its header dictionary, the
/// feature collection and the features, the response body features, the hosting context and its
/// <c>DefaultHttpContext</c>; its client keeps the streamed <c>/response</c> request); each is emptied when its
/// invocation is over, so nothing of one invocation is visible to the next. The <c>Response.Body</c> stream and <c>BodyWriter</c> are the exception: made
/// per invocation on first use, they stop working when it is over, so an app that kept one cannot write into a later
/// invocation's response; a <c>Request.Body</c> the app took is ended likewise (and replaced), so it cannot read a
/// later invocation's request.
/// </summary>
internal sealed class InvocationLoop<TContext> : IDisposable
    where TContext : notnull
{
    private const string TraceIdVariable = "_X_AMZN_TRACE_ID";
    private readonly ServiceContext _context;
    private readonly IHttpApplication<TContext> _application;
    private readonly RuntimeApiClient _client;
    private readonly ILogger _logger;
    private readonly Invocation _invocation = new();
    private readonly InvocationFeatureCollection<TContext> _features = new();
    private readonly RequestFeatures _request;
    private readonly ResponseFeature _response = new();
    private readonly RequestLifetimeFeature _lifetime;
    private StreamingResponseBodyFeature? _streamingBody;
    private BufferedResponseBodyFeature? _bufferedBody;
    private DateTimeOffset _previousEnd;

    /// <summary>A loop answering through <paramref name="client"/>, with what it needs from the server in <paramref name="context"/>.</summary>
    public InvocationLoop(ServiceContext context, IHttpApplication<TContext> application, RuntimeApiClient client)
    {
        _context = context;
        _application = application;
        _client = client;
        _logger = context.Logger;
        _request = new RequestFeatures(_invocation, context.Time) { IsWarmUp = context.IsWarmUp };
        _lifetime = new RequestLifetimeFeature(context.Time);
    }

    /// <summary>
    /// Serves invocations until <paramref name="stopping"/> is cancelled (the host stops, or another loop failed); Runtime
    /// API failures propagate.
    /// </summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        // Warm-ups are not invocations: no freeze follows them, so no flush, thaw or freezing hooks either.
        var oneAtATime = _context.Concurrency == 1 && !_context.IsWarmUp;
        var first = true;
        while (!stopping.IsCancellationRequested)
        {
            if (oneAtATime)
            {
                // Lambda may freeze the process as soon as it asks: what was logged must be out before.
                _context.FlushLogs();
            }

            await _client.NextAsync(_invocation, stopping).ConfigureAwait(false);
            var started = Stopwatch.GetTimestamp();
            if (oneAtATime && !first)
            {
                var idle = _context.Time.GetUtcNow() - _previousEnd;
                _context.Telemetry.RecordIdle(idle);
                await _context.Lifecycle.ThawAsync(idle, stopping).ConfigureAwait(false);
            }

            first = false;
            await HandleAsync(oneAtATime, started).ConfigureAwait(false);
            _previousEnd = _context.Time.GetUtcNow();
            if (oneAtATime)
            {
                await _context.Lifecycle.FreezingAsync(stopping).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The host is stopping and its timeout ran out: aborts the invocation in flight, if any (see <see cref="RequestLifetimeFeature.Shutdown"/>).</summary>
    public bool AbortForShutdown() => _lifetime.Shutdown();

    public void Dispose()
    {
        _lifetime.Dispose();
        _invocation.Dispose();
        _streamingBody?.Dispose();
        _bufferedBody?.Dispose();
    }

    /// <summary>Serves the invocation just read into <see cref="_invocation"/>, then empties everything it used.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask HandleAsync(bool oneAtATime, long started)
    {
        try
        {
            using var scope = Log.InvocationScope(_logger, _invocation.RequestId);
            if (_invocation.InvocationIdIgnored)
            {
                _context.WarnInvocationIdIgnored(_invocation.RequestId);
            }

            var coldStart = !_context.IsWarmUp && _context.Telemetry.TakeColdStart();
            using var logContext = _context.LambdaLoggerEnabled ? InvocationLogContext.Begin(_invocation) : null;
            if (oneAtATime && _context.SetTraceIdEnvironmentVariable)
            {
                Environment.SetEnvironmentVariable(TraceIdVariable, _invocation.TraceId);
            }

            var request = await MapOrReportAsync(started).ConfigureAwait(false);
            if (request is not null)
            {
                await ServeAsync(request, started, coldStart).ConfigureAwait(false);
            }
        }
        finally
        {
            _features.Release();
            _request.Release();
            _response.Release();
            _invocation.Release();
        }
    }

    /// <summary>The event as a request; <see langword="null"/> when it cannot be mapped (then reported as the invocation's error).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<LambdaHttpRequest?> MapOrReportAsync(long started)
    {
        LambdaError error;
        try
        {
            return EventMapper.Map(_invocation.Event, _context.Options, _request.Request);
        }
        catch (Exception ex) when (ex is InvalidEventException or not RuntimeApiFatalException)
        {
            // A mapping failure (even an unexpected one) costs this invocation only; the loop goes on.
            error = ex is InvalidEventException invalid
                ? new LambdaError(invalid.ErrorType, invalid.Message)
                : new LambdaError(LambdaErrorTypes.EventMappingFailed, "The event could not be mapped to a request: " + ex.Message);
        }

        Log.InvalidEvent(_logger, error.ErrorType, error.ErrorMessage);
        var reply = await _client.PostErrorAsync(_invocation.RequestId, _invocation.InvocationId, error, CancellationToken.None).ConfigureAwait(false);
        LogUnexpected(reply, "/error");
        if (!_context.IsWarmUp)
        {
            _context.Telemetry.RecordRejectedEvent(started, error.ErrorType);
        }

        return null;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ServeAsync(LambdaHttpRequest request, long started, bool coldStart)
    {
        var options = _context.Options;
        var streaming = options.InvokeMode == LambdaInvokeMode.ResponseStream && LambdaEventSources.CanStream(request.Source);
        if (options.InvokeMode == LambdaInvokeMode.ResponseStream && !streaming && !_context.IsWarmUp)
        {
            _context.WarnCannotStream(request.Source);
        }

        // The streamed /response is acquired here and let go in this method's finally, whatever failed in between:
        // normally the answer read its reply (or answered /error instead) and released it already; otherwise it is
        // abandoned there, its connection closed when anything of it was sent.
        var requestId = _invocation.RequestId;
        var invocationId = _invocation.InvocationId;
        StreamingResponseRequest? streamed = null;
        ResponseBodyFeature? body = null;
        try
        {
            if (streaming)
            {
                _streamingBody ??= new StreamingResponseBodyFeature(_response, _client, options, _logger, _context.Time) { ConnectionLost = _lifetime.ConnectionLostCallback };
                streamed = await _client.BeginStreamingResponseAsync(requestId, invocationId, _response.State, options.MaxResponseBufferSize, _streamingBody.ConnectionBroken, CancellationToken.None).ConfigureAwait(false);
                body = _streamingBody.Reset(streamed, request.ResponseShape, request.Method);
            }
            else
            {
                _bufferedBody ??= new BufferedResponseBodyFeature(_response, _client, options, _logger);
                body = _bufferedBody.Reset(requestId, invocationId, request.ResponseShape, request.Method);
            }

            if (RequestLimits.Check(request, options.Limits) is { IsRefused: true } refusal)
            {
                await RefuseAsync(request, refusal, body, started).ConfigureAwait(false);
            }
            else
            {
                await AnswerAsync(request, body, started, coldStart).ConfigureAwait(false);
            }
        }
        finally
        {
            body?.Release();
            if (streamed is not null)
            {
                await _client.AbandonAsync(streamed).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs the app for <paramref name="request"/> and answers the invocation through <paramref name="body"/>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AnswerAsync(LambdaHttpRequest request, ResponseBodyFeature body, long started, bool coldStart)
    {
        var options = _context.Options;
        _lifetime.Reset(_invocation.Deadline, options.DeadlineMargin, body);
        try
        {
            SetFeatures(request, body);
            var context = CreateContext(request, options);
            if (_context.IsWarmUp)
            {
                WarmUpRunner.KeepOutOfTelemetry(_features);
            }
            else if (_features.Get<IHttpActivityFeature>()?.Activity is { } activity)
            {
                _context.Telemetry.Describe(activity, _invocation, coldStart);
            }

            Exception? error = null;
            try
            {
                await _application.ProcessRequestAsync(context).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Whatever the app throws is reported to Lambda, never allowed to stop the loop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                // A cancellation that the shutdown abort caused is that abort, not a failure of the app.
                if (!(_lifetime.ShutdownRequested && ex is OperationCanceledException))
                {
                    error = ex;
                    // Only a streamed answer that started has bytes on their way: a buffered one becomes a 500.
                    LogApplicationError(ex, streamStarted: _response.HasStarted && body is StreamingResponseBodyFeature);
                }
            }

            if (_lifetime.AbortRequested)
            {
                Log.RequestAborted(_logger);
            }
            else if (_lifetime.ShutdownRequested)
            {
                Log.AbortedAtShutdown(_logger);
            }

            var reply = await body.FinishAsync(error, CancellationToken.None).ConfigureAwait(false);
            if (!_context.IsWarmUp)
            {
                _context.Telemetry.Record(started, body.Outcome, _lifetime.DeadlineReached);
            }

            LogUnexpected(reply, "/response");
            await _response.FireOnCompletedAsync(_logger).ConfigureAwait(false);
            _application.DisposeContext(context, error);
        }
        finally
        {
            _lifetime.Release();
        }
    }

    /// <summary>
    /// Answers a request over Kestrel's limits as Kestrel does, with the status alone (empty body), without running the
    /// app: no <c>HttpContext</c> is created. It is measured as any answered invocation.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask RefuseAsync(LambdaHttpRequest request, RequestRefusal refusal, ResponseBodyFeature body, long started)
    {
        RequestLimits.LogRefusal(_logger, request, refusal, _context.Options.Limits);
        _response.StatusCode = refusal.StatusCode;
        var reply = await body.FinishAsync(error: null, CancellationToken.None).ConfigureAwait(false);
        if (!_context.IsWarmUp)
        {
            _context.Telemetry.Record(started, body.Outcome, deadlineReached: false);
        }

        LogUnexpected(reply, "/response");
    }

    /// <summary>
    /// Hosting's context for the request. With <see cref="LambdaStreamingOptions.ContinueXRayTrace"/>, a request without
    /// a <c>traceparent</c> of its own gets the invocation's X-Ray trace as its activity's parent, through the
    /// propagator hosting asks while it creates the context (see <see cref="InvocationTracePropagator"/>).
    /// </summary>
    private TContext CreateContext(LambdaHttpRequest request, LambdaStreamingOptions options)
    {
        if (!options.ContinueXRayTrace || _invocation.TraceId is not { } traceHeader)
        {
            return _application.CreateContext(_features);
        }

        InvocationTracePropagator.BeginFallback(request.Headers, traceHeader);
        try
        {
            return _application.CreateContext(_features);
        }
        finally
        {
            InvocationTracePropagator.EndFallback();
        }
    }

    /// <summary>Puts the server's features in the (empty) collection, the way Kestrel sets them for a request.</summary>
    private void SetFeatures(LambdaHttpRequest request, ResponseBodyFeature body)
    {
        _request.Reset(body);
        var features = _features;
        features.Set<IHttpRequestFeature>(_request);
        features.Set<IHttpRequestBodyDetectionFeature>(_request);
        features.Set<IHttpMaxRequestBodySizeFeature>(_request);
        features.Set<IHttpRequestIdentifierFeature>(_request);
        features.Set<IHttpConnectionFeature>(_request);
        features.Set<ILambdaInvocationFeature>(_request);
        features.Set<IEndpointFeature>(_request);
        features.Set<IRouteValuesFeature>(_request);
        features.Set<IHttpResponseFeature>(_response);
        features.Set<IHttpResponseBodyFeature>(body);
        features.Set<IHttpBodyControlFeature>(body);
        features.Set<IHttpRequestLifetimeFeature>(_lifetime);
        if (request.User is not null)
        {
            features.Set<IHttpAuthenticationFeature>(_request);
        }

        if (request.ClientCertificate is not null)
        {
            features.Set<ITlsConnectionFeature>(_request);
        }
    }

    private void LogApplicationError(Exception exception, bool streamStarted)
    {
        if (exception is ResponseTooLargeException tooLarge)
        {
            Log.ResponseTooLarge(_logger, tooLarge.Message);
        }
        else if (streamStarted)
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
        if (reply is { StatusCode: 410 } refused)
        {
            // The invocation timed out, or a newer delivery took its request id: the answer was dropped, and the
            // invocation it belonged to is over. Nothing is wrong with this environment; the loop goes on.
            Log.LateAnswerRefused(_logger, _invocation.RequestId, refused.ToString());
            if (!_context.IsWarmUp)
            {
                _context.Telemetry.RecordLateAnswerRefused();
            }
        }
        else if (reply is { IsSuccess: false } unexpected)
        {
            Log.UnexpectedReply(_logger, request, unexpected.ToString());
        }
    }
}
