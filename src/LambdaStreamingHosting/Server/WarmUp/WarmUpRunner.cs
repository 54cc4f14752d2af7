using System.Diagnostics;
using LambdaStreamingHosting.RuntimeApi;
using LambdaStreamingHosting.Server.WarmUp;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// Runs the warm-up requests (<see cref="LambdaWarmUpOptions"/>) before a SnapStart snapshot, or during init: an
/// <see cref="InvocationLoop{TContext}"/> of its own, in warm-up mode, polls a <see cref="WarmUpRuntimeApi"/> on a
/// loopback port until every warm-up event was answered. Each request is an invocation of that loop: mapped from its
/// event, given the server's features (the invocation feature says it is a warm-up), run through the app in its own
/// request scope, answered through the streamed or buffered writer into that private API. A warm-up that fails (an
/// exception, a 5xx, an error) is logged and the init goes on; so does one that does not end in time (it is aborted).
/// </summary>
internal static class WarmUpRunner
{
    /// <summary>Each warm-up invocation's time, after which its <c>RequestAborted</c> fires (its deadline).</summary>
    internal static readonly TimeSpan InvocationTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long the aborted warm-ups get to end before the init goes on without them.</summary>
    private static readonly TimeSpan AbortGrace = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs the warm-up the options ask for; returns at once when there is none. <paramref name="phase"/> names the moment
    /// for the log (<c>before the snapshot</c>, <c>during init</c>).
    /// </summary>
    public static async Task RunAsync<TContext>(ServiceContext context, IHttpApplication<TContext> application, string phase, CancellationToken cancellationToken)
        where TContext : notnull
    {
        var logger = context.Logger;
        var events = WarmUpEvents.Plan(context.Options);
        if (events.Count == 0)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            await using var api = new WarmUpRuntimeApi(events, InvocationTimeout, context.Time);
            await using var client = new RuntimeApiClient(RuntimeApiEndpoint.Parse(api.Endpoint));
            using var loop = new InvocationLoop<TContext>(context.ForWarmUp(), application, client);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var running = Task.Run(() => loop.RunAsync(stop.Token), CancellationToken.None);

            // The whole warm-up gets each invocation's time once (they run one after another, so a hung one is the case).
            var finished = await Task.WhenAny(api.AllAnswered, running, Task.Delay(InvocationTimeout + AbortGrace, cancellationToken)).ConfigureAwait(false);
            if (finished != api.AllAnswered && finished != running)
            {
                cancellationToken.ThrowIfCancellationRequested();
                loop.AbortForShutdown();
            }

            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await running.WaitAsync(AbortGrace, CancellationToken.None).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            catch (TimeoutException)
            {
                Log.WarmUpAbandoned(logger, AbortGrace.TotalSeconds);
            }

            Report(events, api.Answers, logger, phase, Stopwatch.GetElapsedTime(started));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // A warm-up must never fail the init or keep the snapshot from being taken.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.WarmUpFailed(logger, phase, ex);
        }
    }

    /// <summary>
    /// Keeps a warm-up request out of ASP.NET Core's request metrics and out of trace exports: its activity (the one
    /// hosting made for it, if any listener asked for one) is marked not recorded, so exporters drop it, and a
    /// parent-based sampler drops whatever the app starts under it.
    /// </summary>
    public static void KeepOutOfTelemetry(IFeatureCollection features)
    {
        if (features.Get<IHttpMetricsTagsFeature>() is { } metrics)
        {
            metrics.MetricsDisabled = true;
        }

        if (features.Get<IHttpActivityFeature>()?.Activity is { } activity)
        {
            activity.IsAllDataRequested = false;
            activity.ActivityTraceFlags &= ~ActivityTraceFlags.Recorded;
        }
    }

    private static void Report(IReadOnlyList<WarmUpEvent> events, IReadOnlyList<WarmUpAnswer?> answers, ILogger logger, string phase, TimeSpan elapsed)
    {
        var anyFailed = false;
        foreach (var request in events.Select((warmUpEvent, index) => (Event: warmUpEvent, Answer: answers[index])).GroupBy(pair => pair.Event))
        {
            var summary = WarmUpEvents.Describe(request.Select(pair => pair.Answer?.ToString() ?? "not answered"));
            if (request.Any(pair => pair.Answer is not { } answer || answer.Failed || pair.Event.Registered && answer.StatusCode >= 400))
            {
                anyFailed = true;
                Log.WarmUpRequestFailed(logger, request.Key.Description, summary);
            }
            else
            {
                Log.WarmUpRequestRan(logger, request.Key.Description, summary);
            }
        }

        Log.WarmUpDone(logger, events.Count, phase, elapsed.TotalMilliseconds, anyFailed ? " (some failed, see above)" : "");
    }
}
