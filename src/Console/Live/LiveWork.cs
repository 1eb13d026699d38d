using System.Collections.Concurrent;

namespace Taskdeck.Console.Live;

/// <summary>
/// What the console's live views have cost this node since it started, per kind of view (the dashboard, the executions
/// grid, a DAG run …): the time their queries took and the time pages took to apply and draw their updates. Exported on
/// <c>/api/metrics</c> (<c>taskdeck_console_live_*_total{view="…"}</c>), so "which open pages cost what" is read, not guessed.
/// </summary>
public sealed class LiveWork
{
    private readonly ConcurrentDictionary<string, ViewCost> _views = new(StringComparer.Ordinal);

    /// <summary>How often the stretch is measured again.</summary>
    internal static readonly TimeSpan StretchWindow = TimeSpan.FromSeconds(2);
    /// <summary>
    /// At most every interval is doubled: a view whose refreshes cost enough to be held at <see cref="LiveCadence.MaxInterval"/>
    /// spends the same however far the others are stretched, and must not drag them all to the ceiling; doubled, a quiet
    /// view still shows a change within half a second.
    /// </summary>
    internal const double MaxStretch = 2;

    private readonly Lock _stretchGate = new();
    private long _stretchSampledAt;
    private long _stretchSampledTicks;
    private double _stretch = 1;

    public TimeSpan Querying => TimeSpan.FromTicks(_views.Values.Sum(v => Interlocked.Read(ref v.QueryTicks)));
    public TimeSpan Drawing => TimeSpan.FromTicks(_views.Values.Sum(v => Interlocked.Read(ref v.RenderTicks)));
    public long Queries => _views.Values.Sum(v => Interlocked.Read(ref v.Queries));

    /// <summary>Each kind of view's totals so far.</summary>
    public IEnumerable<(string View, TimeSpan Querying, long Queries, TimeSpan Drawing)> ByView =>
        _views.Select(v => (v.Key, TimeSpan.FromTicks(Interlocked.Read(ref v.Value.QueryTicks)), Interlocked.Read(ref v.Value.Queries),
            TimeSpan.FromTicks(Interlocked.Read(ref v.Value.RenderTicks))));

    /// <summary>
    /// How much every view's interval is stretched now to keep all of them within <paramref name="budget"/> (a share of one
    /// core; what they spend is measured in wall-clock time, so a busy node counts their waits too): measured again at most
    /// every <see cref="StretchWindow"/> from what they spent since, and moved by the square root of that share over the
    /// budget — up when they spent more, back down when less — within 1 and <see cref="MaxStretch"/>. The root damps the
    /// step: a new stretch only shows in what the views spend once their current waits have ended.
    /// </summary>
    public double Stretch(double budget, TimeProvider time)
    {
        var now = time.GetTimestamp();
        lock (_stretchGate)
        {
            if (_stretchSampledAt != 0 && time.GetElapsedTime(_stretchSampledAt, now) is var elapsed && elapsed < StretchWindow) return _stretch;
            var spent = Spent();
            if (_stretchSampledAt != 0)
            {
                var share = (double)(spent - _stretchSampledTicks) / time.GetElapsedTime(_stretchSampledAt, now).Ticks;
                _stretch = Math.Clamp(_stretch * Math.Sqrt(share / budget), 1, MaxStretch);
            }
            (_stretchSampledAt, _stretchSampledTicks) = (now, spent);
            return _stretch;
        }
    }

    private long Spent()
    {
        long ticks = 0;
        foreach (var view in _views) ticks += Interlocked.Read(ref view.Value.QueryTicks) + Interlocked.Read(ref view.Value.RenderTicks);
        return ticks;
    }

    /// <summary>The stretch as last measured (1: the views keep within their budget).</summary>
    public double CurrentStretch
    {
        get { lock (_stretchGate) return _stretch; }
    }

    /// <summary>Where a view of this kind adds what it costs: one per kind, shared by every model of it.</summary>
    internal ViewCost For(string view) => _views.GetOrAdd(view, static _ => new ViewCost());

    internal sealed class ViewCost
    {
        public long QueryTicks;
        public long RenderTicks;
        public long Queries;

        public void AddQuery(TimeSpan spent)
        {
            Interlocked.Add(ref QueryTicks, spent.Ticks);
            Interlocked.Increment(ref Queries);
        }

        public void AddRender(TimeSpan spent) => Interlocked.Add(ref RenderTicks, spent.Ticks);
    }
}
