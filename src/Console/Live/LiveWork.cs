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

    /// <summary>How often the stretch is measured again: long enough to span several refreshes of every view.</summary>
    internal static readonly TimeSpan StretchWindow = TimeSpan.FromSeconds(2);
    /// <summary>A stretch of 8 already holds every view at <see cref="LiveCadence.MaxInterval"/> from its busy interval.</summary>
    internal const double MaxStretch = 8;

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
    /// core): measured again at most every <see cref="StretchWindow"/> from what they spent since, and multiplied by that
    /// share over the budget — up when they spent more, back down (never under 1) when less. What views spend is about
    /// proportional to how often they refresh, so one step lands close to the stretch that meets the budget.
    /// </summary>
    public double Stretch(double budget, TimeProvider time)
    {
        var now = time.GetTimestamp();
        lock (_stretchGate)
        {
            var spent = Querying.Ticks + Drawing.Ticks;
            if (_stretchSampledAt == 0)
            {
                (_stretchSampledAt, _stretchSampledTicks) = (now, spent);
                return _stretch;
            }
            var elapsed = time.GetElapsedTime(_stretchSampledAt, now);
            if (elapsed < StretchWindow) return _stretch;
            var share = (double)(spent - _stretchSampledTicks) / elapsed.Ticks;
            _stretch = Math.Clamp(_stretch * share / budget, 1, MaxStretch);
            (_stretchSampledAt, _stretchSampledTicks) = (now, spent);
            return _stretch;
        }
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
