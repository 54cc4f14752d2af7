using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// Status, headers and the <c>OnStarting</c>/<c>OnCompleted</c> callbacks of the response, with Kestrel's rules: once
/// the response started, the status and headers are read-only (changing them throws
/// <see cref="InvalidOperationException"/>); callbacks run last-registered first.
/// </summary>
internal sealed class ResponseFeature : IHttpResponseFeature
{
    private IHeaderDictionary _headers = new HeaderDictionary();
    private List<(Func<object, Task> Callback, object State)>? _onStarting;
    private List<(Func<object, Task> Callback, object State)>? _onCompleted;
    private int _statusCode = StatusCodes.Status200OK;
    private string? _reasonPhrase;

    public int StatusCode
    {
        get => _statusCode;
        set
        {
            ThrowIfStarted(nameof(StatusCode));
            _statusCode = value;
        }
    }

    public string? ReasonPhrase
    {
        get => _reasonPhrase;
        set
        {
            ThrowIfStarted(nameof(ReasonPhrase));
            _reasonPhrase = value;
        }
    }

    public IHeaderDictionary Headers
    {
        get => _headers;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            ThrowIfStarted(nameof(Headers));
            _headers = value;
        }
    }

    /// <summary>The body stream (kept for the obsolete <c>IHttpResponseFeature.Body</c>; apps use <c>IHttpResponseBodyFeature</c>).</summary>
    public Stream Body { get; set; } = Stream.Null;

    public bool HasStarted { get; private set; }

    public void OnStarting(Func<object, Task> callback, object state)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ThrowIfStarted(nameof(OnStarting));
        (_onStarting ??= []).Add((callback, state));
    }

    public void OnCompleted(Func<object, Task> callback, object state)
    {
        ArgumentNullException.ThrowIfNull(callback);
        (_onCompleted ??= []).Add((callback, state));
    }

    /// <summary>Runs the <c>OnStarting</c> callbacks once, last registered first; an exception propagates.</summary>
    public async Task FireOnStartingAsync()
    {
        var callbacks = _onStarting;
        _onStarting = null;
        for (var i = (callbacks?.Count ?? 0) - 1; i >= 0; i--)
        {
            await callbacks![i].Callback(callbacks[i].State).ConfigureAwait(false);
        }
    }

    /// <summary>The response started: status and headers are frozen from now on.</summary>
    public void MarkStarted()
    {
        HasStarted = true;
        SetReadOnly(true);
    }

    /// <summary>
    /// Replaces the response with an error status and no headers, pending <c>OnStarting</c> callbacks dropped. Only for
    /// responses of which nothing was sent: not started, or buffered.
    /// </summary>
    public void ResetForError(int statusCode)
    {
        HasStarted = false;
        SetReadOnly(false);
        _headers.Clear();
        _statusCode = statusCode;
        _reasonPhrase = null;
        _onStarting = null;
    }

    /// <summary>Runs the <c>OnCompleted</c> callbacks (request-scope disposal among them), last registered first; failures are logged.</summary>
    public async Task FireOnCompletedAsync(ILogger logger)
    {
        var callbacks = _onCompleted;
        _onCompleted = null;
        for (var i = (callbacks?.Count ?? 0) - 1; i >= 0; i--)
        {
            try
            {
                await callbacks![i].Callback(callbacks[i].State).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // An OnCompleted failure must not stop the others, as on Kestrel.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.OnCompletedFailed(logger, ex);
            }
        }
    }

    /// <summary>Freezes or thaws the headers (a dictionary the app put in place of ours cannot be frozen).</summary>
    private void SetReadOnly(bool readOnly)
    {
        if (_headers is HeaderDictionary headers)
        {
            headers.IsReadOnly = readOnly;
        }
    }

    private void ThrowIfStarted(string what)
    {
        if (HasStarted)
        {
            throw new InvalidOperationException($"{what} cannot be set because the response has already started.");
        }
    }
}
