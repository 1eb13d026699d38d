using Taskdeck.Core.Events;

namespace Taskdeck.Console.Live;

/// <summary>One page of a list as a value: its rows (never changed after publication: a change copies the row) and the filter's total.</summary>
public sealed class LiveList<TRow> where TRow : class
{
    private readonly Dictionary<long, int> _index;

    public LiveList(IReadOnlyList<TRow> rows, int total, Func<TRow, long> id)
    {
        Rows = rows;
        Total = total;
        _index = new Dictionary<long, int>(rows.Count);
        for (var i = 0; i < rows.Count; i++) _index[id(rows[i])] = i;
    }

    public IReadOnlyList<TRow> Rows { get; }
    public int Total { get; }

    public bool Contains(long id) => _index.ContainsKey(id);

    public TRow? Find(long id) => _index.TryGetValue(id, out var i) ? Rows[i] : null;

    public IEnumerable<long> Ids => _index.Keys;
}

/// <summary>What a change means to the page of a list that a model shows.</summary>
public enum LiveReaction
{
    /// <summary>It cannot change what the page shows.</summary>
    Ignore,
    /// <summary>It changes a row on the page in place (no query): <see cref="LiveListModel{TRow}.Patch"/> applies it.</summary>
    Patch,
    /// <summary>Rows may enter, leave or move: query again at the next interval.</summary>
    Stale,
}

/// <summary>
/// The shared live model of one page of a list (DAG runs, work tasks, schedules): every page that shows the same filter and
/// page shares it. Each change is weighed once for all of them (<see cref="React"/>): a change to a row on the page that
/// cannot move it is applied to that row in place without a query; one that may make rows enter or leave makes the page
/// stale, and it is read again once per interval for every viewer. Rows are keyed by a long (<see cref="IdOf"/>).
/// </summary>
public abstract class LiveListModel<TRow> : LiveModel<LiveList<TRow>> where TRow : class
{
    /// <summary>Past this many waiting in-place changes a query is cheaper than applying them one by one.</summary>
    private const int MaxPending = 2_000;

    private List<object> _pending = [];
    private List<object>? _duringQuery;

    protected LiveListModel(LiveCadence cadence, TimeProvider time, ILogger logger) : base(cadence, time, logger) { }

    /// <summary>The row's key (what <see cref="LiveUpdate{T}.ChangedRows"/> names).</summary>
    protected abstract long IdOf(TRow row);

    /// <summary>What a change (an <see cref="ExecutionEvent"/> or another source's event) means to the page shown. Engine thread: decide in a few comparisons.</summary>
    protected abstract LiveReaction React(object change, LiveList<TRow> shown);

    /// <summary>The row after the change, as the store would now read it; null when the change does not apply to it.</summary>
    protected virtual TRow? Patch(TRow row, object change) => null;

    /// <summary>The key of the row a patchable change is about.</summary>
    protected virtual long RowOf(object change) => change is ExecutionEvent e ? e.ExecutionId : 0;

    protected LiveList<TRow> Page(IReadOnlyList<TRow> rows, int total) => new(rows, total, IdOf);

    /// <summary>Hands a change to the model (subclasses subscribe to their sources and call this). Never blocks, never throws.</summary>
    protected void OnChange(object change)
    {
        lock (Gate)
        {
            _duringQuery?.Add(change);
            Classify(change, Current);
        }
    }

    private void Classify(object change, LiveList<TRow>? shown)
    {
        if (shown is null) return; // before the first load: the load reads it
        switch (React(change, shown))
        {
            case LiveReaction.Stale:
                MarkStale();
                break;
            case LiveReaction.Patch:
                if (Stale) return; // the coming query reads it
                if (_pending.Count >= MaxPending) { _pending.Clear(); MarkStale(); return; }
                _pending.Add(change);
                MarkPending();
                break;
        }
    }

    protected override void OnQueryStarting()
    {
        _pending = [];
        _duringQuery = [];
    }

    /// <summary>A change that arrived while the query ran may be newer than what it read: weigh each again against the fresh page.</summary>
    protected override void OnQueryCompleted(LiveList<TRow> fresh)
    {
        var during = _duringQuery ?? [];
        _duringQuery = null;
        foreach (var change in during) Classify(change, fresh);
    }

    protected override void OnFirstQueryFailed() => _duringQuery = null;

    /// <summary>Whether a row shows the same as before (a fresh query that changed nothing disturbs nobody).</summary>
    protected virtual bool SameShown(TRow a, TRow b) => Equals(a, b);

    protected override LiveUpdate<LiveList<TRow>>? Compare(LiveList<TRow> previous, LiveList<TRow> fresh, long version)
    {
        var reshaped = previous.Total != fresh.Total || previous.Rows.Count != fresh.Rows.Count || fresh.Rows.Count == 0
            || !previous.Rows.Select(IdOf).SequenceEqual(fresh.Rows.Select(IdOf));
        var changed = fresh.Rows.Where(r => previous.Find(IdOf(r)) is { } old && !SameShown(old, r)).Select(IdOf).ToList();
        if (!reshaped) return changed.Count == 0 ? null : new(fresh, version, changed, false, changed.Count);
        var entered = fresh.Rows.Count(r => !previous.Contains(IdOf(r)));
        var left = previous.Rows.Count(r => !fresh.Contains(IdOf(r)));
        return new(fresh, version, changed, true, Math.Max(1, entered + left + changed.Count));
    }

    protected override (LiveList<TRow> Snapshot, IReadOnlyCollection<long> Changed)? ApplyPending(LiveList<TRow> current)
    {
        if (_pending.Count == 0) return null;
        var pending = _pending;
        _pending = [];
        var copies = new Dictionary<long, TRow>();
        foreach (var change in pending)
        {
            var key = RowOf(change);
            var row = copies.TryGetValue(key, out var copy) ? copy : current.Find(key);
            if (row is not null && Patch(row, change) is { } next) copies[key] = next;
        }
        if (copies.Count == 0) return null;
        var rows = current.Rows.Select(r => copies.GetValueOrDefault(IdOf(r)) ?? r).ToList();
        return (Page(rows, current.Total), copies.Keys.ToList());
    }
}
