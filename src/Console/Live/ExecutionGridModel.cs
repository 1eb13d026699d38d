using System.Globalization;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;

namespace Taskdeck.Console.Live;

/// <summary>
/// One page of the executions grid as a value: the filter as the URL says it (a relative range stays relative, so every
/// page that shows "last hour" shares one model), the sort and the page. Equal queries share one <see cref="ExecutionGridModel"/>.
/// </summary>
public sealed record ExecutionGridQuery(
    string? States = null, string? Name = null, string? Queue = null, string? Tag = null, long? DagRunId = null, string? Range = null,
    string? Search = null, string? Schedule = null, ExecutionSort Sort = ExecutionSort.Newest, bool Descending = false, int Skip = 0, int Take = 25)
{
    /// <summary>The states filter in a canonical order, so that "Failed,Queued" and "Queued,Failed" are one query.</summary>
    public static string? StatesText(IEnumerable<ExecutionState>? states) =>
        states is null ? null : string.Join(",", states.Distinct().Order()) is { Length: > 0 } text ? text : null;

    public IReadOnlyList<ExecutionState>? StateList => States is null ? null
        : States.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => Enum.Parse<ExecutionState>(s)).ToList();

    public ExecutionFilter ToFilter(DateTimeOffset now) => new()
    {
        States = StateList, Name = Name, Queue = Queue, Tag = Tag, DagRunId = DagRunId, Search = Search, Schedule = Schedule,
        CreatedFrom = Range switch
        {
            "15m" => now.AddMinutes(-15),
            "1h" => now.AddHours(-1),
            "24h" => now.AddHours(-24),
            "7d" => now.AddDays(-7),
            _ => null,
        },
    };

    /// <summary>
    /// Whether the filter's rows change only by new executions (and deletions): it names no state and no time range, only
    /// what an execution is given when it is submitted (task, queue, tags, DAG run, schedule, id).
    /// </summary>
    public bool MatchesOnlyBySubmission => States is null && Range is null;

    /// <summary>A state change can move a row within (or onto) the page when the page is ordered by state or by last change.</summary>
    public bool OrderFollowsChanges => Sort is ExecutionSort.State or ExecutionSort.RecentlyUpdated;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"executions[{States}|{Name}|{Queue}|{Tag}|{DagRunId}|{Range}|{Search}|{Schedule}|{Sort}{(Descending ? "↓" : "")}|{Skip}+{Take}]");
}

/// <summary>The rows of one grid page and the filter's total. Rows are never changed after publication: a change copies the row.</summary>
public sealed class ExecutionGridSnapshot
{
    private readonly Dictionary<long, int> _index;

    public ExecutionGridSnapshot(IReadOnlyList<Execution> rows, int total)
    {
        Rows = rows;
        Total = total;
        _index = new Dictionary<long, int>(rows.Count);
        for (var i = 0; i < rows.Count; i++) _index[rows[i].Id] = i;
    }

    public IReadOnlyList<Execution> Rows { get; }
    public int Total { get; }

    public bool Contains(long id) => _index.ContainsKey(id);

    public Execution? Find(long id) => _index.TryGetValue(id, out var i) ? Rows[i] : null;
}

/// <summary>
/// The shared live model of one executions-grid page. A state change or progress report for a row on the page, that cannot
/// move it off the page or within it, is applied to that row in place — no query; each viewer repaints that row alone.
/// Anything that may make rows enter or leave (a new execution, a deletion, a row leaving a state filter, a page ordered by
/// state or last change) makes the page stale: it is queried again at the next interval, once for all its viewers.
/// </summary>
/// <remarks>
/// The filter's total was what a refresh paid most for (a count over every matching row, 18–24 ms at 100,000 rows, at each
/// refresh of each grid). A page that is not full says its total itself. A filter whose rows change only by new executions
/// (<see cref="ExecutionGridQuery.MatchesOnlyBySubmission"/>) is counted in full at most every
/// <see cref="LiveCadence.HistoryInterval"/> and after a deletion; in between a refresh adds the executions past the
/// highest id the last count saw. On a server database (PostgreSQL, SQL Server: several writers) an execution that commits
/// after a higher id was counted, or one another node deleted (not announced here), is missed until the next full count,
/// which a refresh that only added is followed by within the interval, whether or not anything else changes.
/// </remarks>
public sealed class ExecutionGridModel : LiveModel<ExecutionGridSnapshot>
{
    /// <summary>Past this many waiting in-place changes a query is cheaper than applying them one by one.</summary>
    private const int MaxPending = 2_000;

    private readonly ExecutionQueries _queries;
    private readonly IReadOnlySet<ExecutionState>? _states;
    private readonly TimeSpan _fullCountInterval;
    private List<ExecutionEvent> _pending = [];
    private List<ExecutionEvent>? _duringQuery;
    private Counted? _counted;
    private int _deletions;
    private int _fullCounts;

    /// <summary>The filter's total when <see cref="Counted.MaxId"/> was the highest execution id, and when it was counted in full.</summary>
    private sealed record Counted(int Total, long MaxId, DateTimeOffset FullCountAt);

    public ExecutionGridModel(ExecutionGridQuery query, ExecutionEvents events, ExecutionQueries queries, LiveCadence cadence, TimeProvider time, ILogger logger)
        : base(cadence, time, logger)
    {
        Query = query;
        _queries = queries;
        _states = query.StateList?.ToHashSet();
        _fullCountInterval = cadence.HistoryInterval;
        Follow(events.Subscribe(OnEvent));
    }

    public ExecutionGridQuery Query { get; }

    /// <summary>Counts of every row the filter matches so far (not those of new rows only, nor the pages that told their total).</summary>
    internal int FullCounts => Volatile.Read(ref _fullCounts);

    protected override async Task<ExecutionGridSnapshot> QueryAsync(CancellationToken ct)
    {
        var now = Time.GetUtcNow();
        var filter = Query.ToFilter(now);
        var keepsCount = Query.MatchesOnlyBySubmission;
        var page = await _queries.PageAsync(filter, Query.Sort, Query.Descending, Query.Skip, Query.Take, withTotal: !keepsCount, ct);
        var total = page.Total >= 0 ? page.Total : await TotalAsync(filter, now, ct);
        return new ExecutionGridSnapshot(KeptFrom(Current, page.Items), total);
    }

    /// <summary>
    /// The rows read, each one the page already shows the same as the instance it shows. A grid row draws again only when
    /// the row it shows is another object (<c>ExecutionRow</c>): a fresh instance of every row would make every grid that
    /// watches this page draw every row again at every row that entered it.
    /// </summary>
    private static List<Execution> KeptFrom(ExecutionGridSnapshot? shown, IReadOnlyList<Execution> read)
    {
        var rows = new List<Execution>(read.Count);
        foreach (var row in read)
            rows.Add(shown?.Find(row.Id) is { } old && SameShown(old, row) ? old : row);
        return rows;
    }

    /// <summary>The total of a filter whose rows only new executions add: the last count plus the executions since.</summary>
    private async Task<int> TotalAsync(ExecutionFilter filter, DateTimeOffset now, CancellationToken ct)
    {
        Counted? counted;
        int deletions;
        lock (Gate) (counted, deletions) = (_counted, _deletions);
        if (counted is null || now - counted.FullCountAt >= _fullCountInterval)
        {
            var full = await _queries.TallyAsync(filter, ct: ct);
            Interlocked.Increment(ref _fullCounts);
            counted = new Counted(full.Count, full.MaxId, now);
        }
        else
        {
            var added = await _queries.TallyAsync(filter, counted.MaxId, ct);
            counted = counted with { Total = counted.Total + added.Count, MaxId = Math.Max(counted.MaxId, added.MaxId) };
            // What no event tells (a row committed after a higher id was counted, another node's deletion) shows at the
            // next full count: make sure there is one, even if nothing else changes.
            RecheckAt(counted.FullCountAt + _fullCountInterval);
        }
        // After a deletion while this was read, the count may include the deleted row: the next refresh counts in full.
        lock (Gate) _counted = _deletions == deletions ? counted : null;
        return counted.Total;
    }

    /// <summary>Engine thread: decide in a few comparisons, never block.</summary>
    private void OnEvent(ExecutionEvent e)
    {
        if (e is LogAppended or WorkerStartReported or WorkerProgressReported) return;
        lock (Gate)
        {
            _duringQuery?.Add(e);
            Classify(e, Current);
        }
    }

    private void Classify(ExecutionEvent e, ExecutionGridSnapshot? shown)
    {
        if (shown is null) return; // before the first load: the load reads it
        var onPage = shown.Contains(e.ExecutionId);
        switch (e)
        {
            case ProgressChanged:
                if (onPage) Queue(e);
                break;
            case ExecutionDeleted:
                // Rare, and the total (or an offset page) may move even when the row is not shown: count it in full.
                _counted = null;
                _deletions++;
                MarkStale();
                break;
            case StateChanged s when s.From is null || s.Transition == Transition.Submit:
                // A new execution: it may enter the page. One of another DAG run cannot.
                if (Query.DagRunId is { } run && s.DagRunId is { } other && other != run) break;
                if (_states is not null && !_states.Contains(s.To)) break;
                MarkStale();
                break;
            case StateChanged s when onPage:
                if (Query.OrderFollowsChanges || (_states is not null && !_states.Contains(s.To))) MarkStale();
                else Queue(e);
                break;
            case StateChanged s:
                // Off the page: it can only come onto it through the state filter or an order that follows changes.
                if (Query.OrderFollowsChanges || (_states is not null && (_states.Contains(s.To) || s.From is { } from && _states.Contains(from))))
                    MarkStale();
                break;
        }
    }

    private void Queue(ExecutionEvent e)
    {
        if (Stale) return; // the coming query reads it
        if (_pending.Count >= MaxPending) { _pending.Clear(); MarkStale(); return; }
        _pending.Add(e);
        MarkPending();
    }

    protected override void OnQueryStarting()
    {
        _pending = [];
        _duringQuery = [];
    }

    /// <summary>
    /// A change that arrived while the query ran may be newer than what it read, for a row the old page did not show:
    /// weigh each again against the fresh page (a change the query already saw is harmless to apply twice).
    /// </summary>
    protected override void OnFirstQueryFailed() => _duringQuery = null;

    protected override void OnQueryCompleted(ExecutionGridSnapshot fresh)
    {
        var during = _duringQuery ?? [];
        _duringQuery = null;
        foreach (var e in during) Classify(e, fresh);
    }

    protected override LiveUpdate<ExecutionGridSnapshot>? Compare(ExecutionGridSnapshot previous, ExecutionGridSnapshot fresh, long version)
    {
        var reshaped = previous.Total != fresh.Total || previous.Rows.Count != fresh.Rows.Count || fresh.Rows.Count == 0
            || !previous.Rows.Select(r => r.Id).SequenceEqual(fresh.Rows.Select(r => r.Id));
        // The fresh read kept the object shown for every row that shows the same (KeptFrom, against this same snapshot):
        // another object is a changed row.
        var changed = fresh.Rows.Where(r => previous.Find(r.Id) is { } old && !ReferenceEquals(old, r)).Select(r => r.Id).ToList();
        if (!reshaped) return changed.Count == 0 ? null : new(fresh, version, changed, false, changed.Count);
        var entered = fresh.Rows.Count(r => !previous.Contains(r.Id));
        var left = previous.Rows.Count(r => !fresh.Contains(r.Id));
        return new(fresh, version, changed, true, Math.Max(1, entered + left + changed.Count));
    }

    protected override (ExecutionGridSnapshot Snapshot, IReadOnlyCollection<long> Changed)? ApplyPending(ExecutionGridSnapshot current)
    {
        if (_pending.Count == 0) return null;
        var pending = _pending;
        _pending = [];
        var copies = new Dictionary<long, Execution>();
        foreach (var e in pending)
        {
            if (current.Find(e.ExecutionId) is not { } shown) continue;
            var row = copies.TryGetValue(e.ExecutionId, out var copy) ? copy : shown;
            var next = Patch(row, e);
            if (next is not null) copies[e.ExecutionId] = next;
        }
        if (copies.Count == 0) return null;
        var rows = current.Rows.Select(r => copies.GetValueOrDefault(r.Id) ?? r).ToList();
        return (new ExecutionGridSnapshot(rows, current.Total), copies.Keys.ToList());
    }

    /// <summary>
    /// The row as the store would now read it, as far as the grid shows it: state, attempt, times, progress (the store's
    /// transition writes the same columns). Null when the change is older than the row.
    /// </summary>
    internal static Execution? Patch(Execution row, ExecutionEvent e)
    {
        switch (e)
        {
            case ProgressChanged p:
                if (row.State is not (ExecutionState.Running or ExecutionState.Cancelling)) return null;
                var progressed = Copy(row);
                progressed.Progress = p.Progress;
                progressed.ProgressMessage = p.Message;
                return progressed;
            case StateChanged s:
                if (s.At < row.UpdatedAt || (s.At == row.UpdatedAt && row.State == s.To)) return null;
                var next = Copy(row);
                next.State = s.To;
                next.UpdatedAt = s.At;
                if (s.Transition is Transition.Claim or Transition.ReportStarted || (s.Transition is null && s.To == ExecutionState.Running && s.From != ExecutionState.Cancelling))
                {
                    next.AttemptCount = s.AttemptNumber > 0 ? s.AttemptNumber : row.AttemptCount + 1;
                    next.StartedAt = s.At;
                    next.FinishedAt = null;
                    next.Progress = null;
                    next.ProgressMessage = null;
                }
                else if (s.To.IsTerminal()) next.FinishedAt = s.At;
                else if (s.To is ExecutionState.Queued or ExecutionState.Scheduled or ExecutionState.Pending) next.FinishedAt = null;
                return next;
            default:
                return null;
        }
    }

    private static Execution Copy(Execution e) => new()
    {
        Id = e.Id, TaskId = e.TaskId, Kind = e.Kind, Name = e.Name, Queue = e.Queue, Priority = e.Priority, State = e.State,
        AttemptCount = e.AttemptCount, MaxRetries = e.MaxRetries, CreatedAt = e.CreatedAt, UpdatedAt = e.UpdatedAt, StartedAt = e.StartedAt,
        FinishedAt = e.FinishedAt, Progress = e.Progress, ProgressMessage = e.ProgressMessage, Tags = e.Tags, DagRunId = e.DagRunId,
        DagTaskName = e.DagTaskName, IsGenerator = e.IsGenerator, NodeId = e.NodeId, ScheduleName = e.ScheduleName, ScheduleSlot = e.ScheduleSlot,
        RunAt = e.RunAt, ExpiresAt = e.ExpiresAt, ErrorMessage = e.ErrorMessage, Cores = e.Cores, MemoryMB = e.MemoryMB, Gpus = e.Gpus,
        RetryIntervalSeconds = e.RetryIntervalSeconds, ExponentialBackoff = e.ExponentialBackoff, RetryPolicy = e.RetryPolicy, TimeoutSeconds = e.TimeoutSeconds,
    };

    // A row that shows the same is kept as the object the page had (KeptFrom), patched copies included: what any reader of
    // a grid snapshot uses must be compared here, or it could stay as an earlier read had it.
    private static bool SameShown(Execution a, Execution b) =>
        a.State == b.State && a.UpdatedAt == b.UpdatedAt && a.AttemptCount == b.AttemptCount && a.Progress == b.Progress
        && a.ProgressMessage == b.ProgressMessage && a.StartedAt == b.StartedAt && a.FinishedAt == b.FinishedAt && a.Priority == b.Priority;
}
