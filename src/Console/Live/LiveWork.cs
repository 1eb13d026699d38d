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

    public TimeSpan Querying => TimeSpan.FromTicks(_views.Values.Sum(v => Interlocked.Read(ref v.QueryTicks)));
    public TimeSpan Drawing => TimeSpan.FromTicks(_views.Values.Sum(v => Interlocked.Read(ref v.RenderTicks)));
    public long Queries => _views.Values.Sum(v => Interlocked.Read(ref v.Queries));

    /// <summary>Each kind of view's totals so far.</summary>
    public IEnumerable<(string View, TimeSpan Querying, long Queries, TimeSpan Drawing)> ByView =>
        _views.Select(v => (v.Key, TimeSpan.FromTicks(Interlocked.Read(ref v.Value.QueryTicks)), Interlocked.Read(ref v.Value.Queries),
            TimeSpan.FromTicks(Interlocked.Read(ref v.Value.RenderTicks))));

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
