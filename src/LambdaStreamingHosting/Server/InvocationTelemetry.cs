using System.Diagnostics;
using System.Diagnostics.Metrics;
using LambdaStreamingHosting.RuntimeApi;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// What the server tells observability tools, in OpenTelemetry's terms: the FaaS attributes of each request's
/// <see cref="Activity"/> (the one ASP.NET Core hosting creates), and the <c>LambdaStreamingHosting</c>
/// <see cref="Meter"/>'s instruments (<c>faas.*</c> where the semantic conventions have one). Nothing is computed for an
/// activity no listener records, nor for an instrument nothing listens to. One per server, shared by its loops.
/// </summary>
internal sealed class InvocationTelemetry : IDisposable
{
    /// <summary>The meter's name: the package's.</summary>
    public const string MeterName = "LambdaStreamingHosting";

    /// <summary>The <c>error.type</c> of an answer cut short because the Runtime API connection broke (Lambda got no <c>errorType</c>).</summary>
    public const string ConnectionLostErrorType = "connection_lost";

    // Seconds: the semantic conventions' boundaries for faas.invoke_duration, and longer ones, since a stream may run
    // up to Lambda's 900 s limit.
    private static readonly IReadOnlyList<double> DurationBoundaries =
        [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 300, 900];

    private static readonly IReadOnlyList<double> IdleBoundaries = [0.1, 1, 5, 10, 30, 60, 300, 600, 1800, 3600];

    private static readonly IReadOnlyList<long> SizeBoundaries =
        [0, 1024, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 6 * 1024 * 1024, 20 * 1024 * 1024, 200 * 1024 * 1024];

    private static readonly object BoxedTrue = true;
    private static readonly object BoxedFalse = false;
    private static readonly KeyValuePair<string, object?> HttpTrigger = new("faas.trigger", "http");
    private static readonly KeyValuePair<string, object?>[] TriggerOnly = [HttpTrigger];
    private static readonly KeyValuePair<string, object?>[][] StatusClasses =
        [.. new[] { "1xx", "2xx", "3xx", "4xx", "5xx" }.Select(c => new KeyValuePair<string, object?>[] { HttpTrigger, new("lambda_streaming.status_class", c) })];

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly string? _region;
    private readonly Counter<long> _invocations;
    private readonly Counter<long> _errors;
    private readonly Counter<long> _coldStarts;
    private readonly Counter<long> _timeouts;
    private readonly Counter<long> _streamFailures;
    private readonly Counter<long> _lateAnswersRefused;
    private readonly Histogram<double> _initDuration;
    private readonly Histogram<double> _invokeDuration;
    private readonly Histogram<double> _timeToFirstByte;
    private readonly Histogram<double> _idleDuration;
    private readonly Histogram<long> _bodySize;
    private DateTime _initStarted;
    private DateTime _initEnded;
    private int _coldStartTaken;
    private ArnAccount? _lastArn;

    public InvocationTelemetry(IMeterFactory? meterFactory, string? region)
    {
        _region = string.IsNullOrEmpty(region) ? null : region;
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(new MeterOptions(MeterName)) ?? new Meter(MeterName);
        _invocations = _meter.CreateCounter<long>("faas.invocations", "{invocation}", "Invocations answered without a Lambda error, by HTTP status class.");
        _errors = _meter.CreateCounter<long>("faas.errors", "{error}", "Invocations that ended as a Lambda error, by errorType (error.type).");
        _coldStarts = _meter.CreateCounter<long>("faas.coldstarts", "{coldstart}", "First invocations of an execution environment.");
        _timeouts = _meter.CreateCounter<long>("faas.timeouts", "{timeout}", "Invocations whose deadline came while they ran (RequestAborted fired DeadlineMargin before it).");
        _streamFailures = _meter.CreateCounter<long>("lambda_streaming.stream.failures", "{failure}", "Streamed answers that failed after their first bytes went out (error trailers, or a broken Runtime API connection).");
        _lateAnswersRefused = _meter.CreateCounter<long>("lambda_streaming.late_answers.refused", "{answer}", "Answers the Runtime API refused with 410: their invocation had timed out, or a newer delivery of its request id had taken its place.");
        _initDuration = _meter.CreateHistogram<double>("faas.init_duration", "s", "From the process start (with SnapStart, the restore) to the first request for an event (the init phase).", advice: new() { HistogramBucketBoundaries = DurationBoundaries });
        _invokeDuration = _meter.CreateHistogram<double>("faas.invoke_duration", "s", "From the event's arrival to the end of its answer (last byte sent and the Runtime API's reply read).", advice: new() { HistogramBucketBoundaries = DurationBoundaries });
        _timeToFirstByte = _meter.CreateHistogram<double>("lambda_streaming.time_to_first_byte", "s", "Streamed answers: from the event's arrival to the first bytes of the answer leaving for the client.", advice: new() { HistogramBucketBoundaries = DurationBoundaries });
        _idleDuration = _meter.CreateHistogram<double>("lambda_streaming.idle.duration", "s", "The idle gap before an invocation that thawed the environment (time since the previous answer ended).", advice: new() { HistogramBucketBoundaries = IdleBoundaries });
        _bodySize = _meter.CreateHistogram<long>("lambda_streaming.response.body.size", "By", "Body bytes of each answer.", advice: new() { HistogramBucketBoundaries = SizeBoundaries });
    }

    /// <summary>
    /// SnapStart: the environment was restored from its snapshot. Its init phase starts here rather than at the process
    /// start, which was before the snapshot was taken (possibly days ago).
    /// </summary>
    public void Restored() => _initStarted = DateTime.UtcNow;

    /// <summary>The init phase ended: the first event is about to be requested.</summary>
    public void InitEnded() => _initEnded = DateTime.UtcNow;

    /// <summary>Whether this invocation is the execution environment's first (once per process, whichever loop takes it).</summary>
    public bool TakeColdStart()
    {
        if (Volatile.Read(ref _coldStartTaken) != 0 || Interlocked.Exchange(ref _coldStartTaken, 1) != 0)
        {
            return false;
        }

        if (_coldStarts.Enabled)
        {
            _coldStarts.Add(1, TriggerOnly);
        }

        if (_initDuration.Enabled && _initEnded != default)
        {
            _initDuration.Record((_initEnded - InitStarted()).TotalSeconds, TriggerOnly);
        }

        return true;
    }

    /// <summary>
    /// Puts the FaaS attributes on the request's <paramref name="activity"/>, when a listener records it: the
    /// invocation id, cold start, trigger, cloud provider and region, the invoked ARN and the account it names.
    /// </summary>
    public void Describe(Activity activity, Invocation invocation, bool coldStart)
    {
        if (!activity.IsAllDataRequested || !activity.Source.HasListeners())
        {
            return;
        }

        activity.SetTag("faas.invocation_id", invocation.RequestId);
        activity.SetTag("faas.coldstart", coldStart ? BoxedTrue : BoxedFalse);
        activity.SetTag("faas.trigger", "http");
        activity.SetTag("cloud.provider", "aws");
        if (_region is not null)
        {
            activity.SetTag("cloud.region", _region);
        }

        var arn = invocation.InvokedFunctionArn;
        if (arn.Length > 0)
        {
            activity.SetTag("aws.lambda.invoked_arn", arn);
            if (AccountOf(arn) is { } account)
            {
                activity.SetTag("cloud.account.id", account);
            }
        }
    }

    /// <summary>
    /// Records an answered (or failed) invocation that started at <paramref name="startTimestamp"/>, from what became of
    /// its response (the status, the body bytes, when the first bytes of a streamed answer left, the <c>errorType</c>
    /// Lambda was told, whether the connection broke) and whether its deadline came.
    /// </summary>
    public void Record(long startTimestamp, in ResponseOutcome outcome, bool deadlineReached)
    {
        var connectionLost = outcome.Ending == ResponseEnding.Broken;
        var failed = outcome.ErrorType is not null || connectionLost;
        if (!failed)
        {
            if (_invocations.Enabled)
            {
                _invocations.Add(1, StatusClasses[Math.Clamp((outcome.StatusCode / 100) - 1, 0, 4)]);
            }
        }
        else
        {
            var errorType = outcome.ErrorType ?? ConnectionLostErrorType;
            if (_errors.Enabled)
            {
                _errors.Add(1, HttpTrigger, new KeyValuePair<string, object?>("error.type", errorType));
            }

            if (outcome.Streamed && outcome.FirstByteTimestamp != 0 && _streamFailures.Enabled)
            {
                _streamFailures.Add(1, HttpTrigger, new KeyValuePair<string, object?>("error.type", errorType));
            }
        }

        if (deadlineReached && _timeouts.Enabled)
        {
            _timeouts.Add(1, TriggerOnly);
        }

        if (_invokeDuration.Enabled)
        {
            _invokeDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, TriggerOnly);
        }

        if (outcome.Streamed && outcome.FirstByteTimestamp != 0 && _timeToFirstByte.Enabled)
        {
            _timeToFirstByte.Record(Stopwatch.GetElapsedTime(startTimestamp, outcome.FirstByteTimestamp).TotalSeconds, TriggerOnly);
        }

        if (_bodySize.Enabled)
        {
            _bodySize.Record(outcome.BodyBytes, TriggerOnly);
        }
    }

    /// <summary>Records an event that could not be mapped to a request (answered with <paramref name="errorType"/>).</summary>
    public void RecordRejectedEvent(long startTimestamp, string errorType)
    {
        if (_errors.Enabled)
        {
            _errors.Add(1, HttpTrigger, new KeyValuePair<string, object?>("error.type", errorType));
        }

        if (_invokeDuration.Enabled)
        {
            _invokeDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, TriggerOnly);
        }
    }

    /// <summary>Records an answer the Runtime API refused as late (410).</summary>
    public void RecordLateAnswerRefused()
    {
        if (_lateAnswersRefused.Enabled)
        {
            _lateAnswersRefused.Add(1, TriggerOnly);
        }
    }

    /// <summary>Records the idle gap before an invocation that thawed the environment.</summary>
    public void RecordIdle(TimeSpan idle)
    {
        if (_idleDuration.Enabled)
        {
            _idleDuration.Record(idle.TotalSeconds, TriggerOnly);
        }
    }

    private DateTime InitStarted()
    {
        if (_initStarted != default)
        {
            return _initStarted;
        }

        using var process = Process.GetCurrentProcess();
        return process.StartTime.ToUniversalTime();
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    /// <summary>The account id in a Lambda ARN (<c>arn:aws:lambda:{region}:{account}:function:{name}[:{qualifier}]</c>), kept while the ARN repeats.</summary>
    private string? AccountOf(string arn)
    {
        if (_lastArn is { } last && ReferenceEquals(last.Arn, arn))
        {
            return last.Account;
        }

        string? account = null;
        var fields = 0;
        foreach (var range in arn.AsSpan().Split(':'))
        {
            if (fields++ == 4)
            {
                account = range.End.Value > range.Start.Value ? arn[range] : null;
                break;
            }
        }

        _lastArn = new ArnAccount(arn, account);
        return account;
    }

    private sealed record ArnAccount(string Arn, string? Account);
}
