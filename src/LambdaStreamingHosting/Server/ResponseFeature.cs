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
    private readonly HeaderDictionary _ownHeaders = new();
    private IHeaderDictionary _headers;
    private List<(Func<object, Task> Callback, object State)>? _onStarting;
    private List<(Func<object, Task> Callback, object State)>? _onCompleted;
    private int _statusCode = StatusCodes.Status200OK;
    private string? _reasonPhrase;
    private Stream? _body;

    public ResponseFeature() => _headers = _ownHeaders;

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

    /// <summary>
    /// The body stream (kept for the obsolete <c>IHttpResponseFeature.Body</c>; apps use <c>IHttpResponseBodyFeature</c>):
    /// the current <see cref="BodyFeature"/>'s, unless one was set.
    /// </summary>
    public Stream Body
    {
        get => _body ?? BodyFeature?.Stream ?? Stream.Null;
        set => _body = value;
    }

    /// <summary>The invocation's response body, whose stream <see cref="Body"/> is.</summary>
    public ResponseBodyFeature? BodyFeature { get; set; }

    /// <summary>Whether the head is committed, as the response's <see cref="State"/> says.</summary>
    public bool HasStarted => State.HasStarted;

    /// <summary>Where the response is in its life: the one owner of started, sent, ended, aborted and broken.</summary>
    public ResponseState State { get; } = new();

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

        _onStarting ??= Emptied(callbacks);
    }

    /// <summary>The response started: status and headers are frozen from now on.</summary>
    public void FreezeHeaders() => SetReadOnly(true);

    /// <summary>
    /// Replaces the response with an error status and no headers, pending <c>OnStarting</c> callbacks dropped, not
    /// started. Only for responses of which nothing was sent.
    /// </summary>
    public void ResetForError(int statusCode)
    {
        State.Restart();
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

        _onCompleted ??= Emptied(callbacks);
    }

    /// <summary>
    /// The invocation is over: the feature (reused by its invocation loop) is as new for the next one: status 200, our
    /// own header dictionary emptied and writable again, no callbacks, its <see cref="State"/> released.
    /// </summary>
    public void Release()
    {
        State.Release();
        _headers = _ownHeaders;
        _ownHeaders.IsReadOnly = false;
        _ownHeaders.Clear();
        _statusCode = StatusCodes.Status200OK;
        _reasonPhrase = null;
        _onStarting?.Clear();
        _onCompleted?.Clear();
        _body = null;
        BodyFeature = null;
    }

    /// <summary>A callback list after its callbacks ran, emptied to take the next invocation's.</summary>
    private static List<(Func<object, Task> Callback, object State)>? Emptied(List<(Func<object, Task> Callback, object State)>? callbacks)
    {
        callbacks?.Clear();
        return callbacks;
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
