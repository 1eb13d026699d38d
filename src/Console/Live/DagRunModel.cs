using Taskdeck.Console.Components.Dags;
using Taskdeck.Core.Bulk;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dags;

namespace Taskdeck.Console.Live;

/// <summary>
/// A DAG run's task states as its page draws them, computed once for every viewer of the run (a big run's grouping included),
/// and the kill or restart of the run under way, whoever started it, so every viewer can follow its progress.
/// </summary>
public sealed record DagRunSnapshot(
    DagRunGraph? Detail, IReadOnlyList<DagTaskAttempt> Attempts, IReadOnlyDictionary<ExecutionState, int> Counts,
    IReadOnlyList<DagTaskNode> GraphTasks, IReadOnlyList<(long Parent, long Child)> GraphEdges, IReadOnlyDictionary<long, DagGroupNode>? GraphGroups,
    BulkAction? ActUnderWay = null);

/// <summary>
/// One DAG run, shared by every page that shows it: a state change of one of its tasks marks it stale. A run of 10,000
/// tasks costs one read per interval however many people watch it, and the interval grows with what the read costs.
/// </summary>
public sealed class DagRunModel : LiveModel<DagRunSnapshot>
{
    private readonly DagQueries _queries;
    private readonly IBulkActionStore _acts;

    public DagRunModel(long runId, DagQueries queries, IBulkActionStore acts, ExecutionEvents events, LiveCadence cadence, TimeProvider time, ILogger logger)
        : base(cadence, time, logger)
    {
        RunId = runId;
        _queries = queries;
        _acts = acts;
        Follow(events.Subscribe(e =>
        {
            if (e is not StateChanged s || s.DagRunId != runId) return;
            lock (Gate) MarkStale();
        }));
    }

    public long RunId { get; }

    /// <summary>How often the run is read again while a kill or restart of it is under way, so every viewer sees it progress and end.</summary>
    public static readonly TimeSpan ActRecheck = TimeSpan.FromSeconds(1);

    /// <summary>
    /// An act under way reports its progress in its own row, which no state change announces (its last batch may change no
    /// task at all): the one shared model reads again while it lasts — one read per second for all viewers, none per page.
    /// </summary>
    protected override void OnQueryCompleted(DagRunSnapshot fresh)
    {
        if (fresh.ActUnderWay is null) return;
        _ = RecheckAsync();
    }

    private async Task RecheckAsync()
    {
        try { await Task.Delay(ActRecheck, Time); }
        catch (OperationCanceledException) { return; }
        lock (Gate) MarkStale();
    }

    /// <summary>An act on the run (kill, restart) changed it: read it again at the next interval.</summary>
    public void Invalidate()
    {
        lock (Gate) MarkStale();
    }

    protected override async Task<DagRunSnapshot> QueryAsync(CancellationToken ct)
    {
        var detail = await _queries.GetGraphAsync(RunId, ct);
        if (detail is null) return new DagRunSnapshot(null, [], new Dictionary<ExecutionState, int>(), [], [], null);
        var attempts = await _queries.AttemptsAsync(RunId, ct);
        // A kill or restart started anywhere changes the run's tasks, which makes this read happen: the act shows with them.
        var act = await _acts.UnfinishedForRunAsync(RunId, ct);
        var counts = detail.Tasks.GroupBy(t => t.State).ToDictionary(g => g.Key, g => g.Count());
        if (detail.Tasks.Count <= DagRunDetailPage.GraphLimit)
            return new DagRunSnapshot(detail, attempts, counts, detail.Tasks, detail.Edges.Select(e => (e.ParentExecutionId, e.ChildExecutionId)).ToList(), null, act);
        // Too many to draw one by one: one node per expanded template, and if that is still too many, the first ones.
        var (groups, edges) = DagTaskGroups.Collapse(detail.Tasks, detail.Edges);
        return new DagRunSnapshot(detail, attempts, counts, groups.Take(DagRunDetailPage.GraphLimit).Select(g => g.Node).ToList(), edges,
            groups.ToDictionary(g => g.Node.ExecutionId), act);
    }
}
