using System.Collections;
using Microsoft.AspNetCore.Hosting.Server.Abstractions;
using Microsoft.AspNetCore.Http.Features;

namespace LambdaStreamingHosting.Server;

/// <summary>
/// The features of an invocation loop's requests, one collection reused for every invocation as Kestrel reuses its
/// connection's: the server puts its features in when an invocation starts, <see cref="Release"/> drops them and
/// whatever the app or the framework added once the invocation is over, and every change bumps
/// <see cref="Revision"/>, so the features <c>DefaultHttpContext</c> cached are fetched again. As an
/// <see cref="IHostContextContainer{TContext}"/> it also keeps the hosting layer's context, so the
/// <c>DefaultHttpContext</c> itself is reused (unless the app uses <c>IHttpContextAccessor</c>, when hosting makes a
/// new one each time).
/// </summary>
internal sealed class InvocationFeatureCollection<TContext> : IFeatureCollection, IHostContextContainer<TContext>
    where TContext : notnull
{
    // A handful of entries: a linear search beats hashing, and the context caches what it fetched.
    private readonly List<KeyValuePair<Type, object>> _features = new(24);

    public TContext? HostContext { get; set; }

    public bool IsReadOnly => false;

    public int Revision { get; private set; }

    public object? this[Type key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            var index = IndexOf(key);
            return index < 0 ? null : _features[index].Value;
        }

        set
        {
            ArgumentNullException.ThrowIfNull(key);
            var index = IndexOf(key);
            if (value is null)
            {
                if (index >= 0)
                {
                    _features.RemoveAt(index);
                }
            }
            else if (index >= 0)
            {
                _features[index] = new(key, value);
            }
            else
            {
                _features.Add(new(key, value));
            }

            Revision++;
        }
    }

    public TFeature? Get<TFeature>() => (TFeature?)this[typeof(TFeature)];

    public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

    /// <summary>The invocation is over: every feature is dropped; the host context stays for the next one.</summary>
    public void Release()
    {
        _features.Clear();
        Revision++;
    }

    public IEnumerator<KeyValuePair<Type, object>> GetEnumerator() => _features.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(Type key)
    {
        for (var i = 0; i < _features.Count; i++)
        {
            if (_features[i].Key == key)
            {
                return i;
            }
        }

        return -1;
    }
}
