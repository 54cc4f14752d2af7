namespace LambdaStreamingHosting.EndToEnd;

/// <summary>Samples of one measurement and their summary.</summary>
internal sealed class Samples(string unit)
{
    private readonly List<double> _values = [];

    public string Unit { get; } = unit;

    public int Count => _values.Count;

    public void Add(double value) => _values.Add(value);

    public double Median => Percentile(50);

    public double P99 => Percentile(99);

    public double Max => _values.Count == 0 ? double.NaN : _values.Max();

    /// <summary>The nearest-rank percentile.</summary>
    public double Percentile(double percent)
    {
        if (_values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = _values.Order().ToArray();
        var rank = (int)Math.Ceiling(percent / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
