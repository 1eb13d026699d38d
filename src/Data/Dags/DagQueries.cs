using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Dags;

public sealed record DagRunSummary(DagRun Run, IReadOnlyDictionary<ExecutionState, int> Counts, DateTimeOffset LastUpdate);

/// <summary>Everything about a run: its tasks (executions), edges, closed attempts with their three logs, state history.</summary>
public sealed record DagRunDetail(
    DagRun Run,
    IReadOnlyList<DagRunStateChange> Changes,
    IReadOnlyList<Execution> Tasks,
    IReadOnlyList<DagEdge> Edges,
    IReadOnlyList<Attempt> Attempts,
    IReadOnlyDictionary<(long ExecutionId, int Attempt, LogStream Stream), string> Logs);

/// <summary>One task with the names of its parents and children.</summary>
public sealed record DagTaskDetail(Execution Task, IReadOnlyList<string> Parents, IReadOnlyList<string> Children);

public sealed record DagRunListItem(DagRun Run, IReadOnlyDictionary<ExecutionState, int> TaskCounts)
{
    public int TaskCount => TaskCounts.Values.Sum();
}

/// <summary>One task of a run as the graph and grid draw it: no arguments, results or logs.</summary>
public sealed record DagTaskNode(long ExecutionId, string Name, ExecutionState State, int AttemptCount, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt);

public sealed record DagTaskAttempt(long ExecutionId, int Number, ExecutionState Outcome, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt);

public sealed record DagRunGraph(DagRun Run, IReadOnlyList<DagTaskNode> Tasks, IReadOnlyList<DagEdge> Edges, IReadOnlyList<DagRunStateChange> History);

/// <summary>Read models for daggy's API and the console's DAG pages.</summary>
public sealed class DagQueries(IDbContextFactory<TaskdeckDbContext> contexts)
{
    public static readonly DagRunState[] Active = [DagRunState.Queued, DagRunState.Running];

    /// <summary>Runs after <paramref name="afterId"/>, oldest first, at most <paramref name="take"/>, with their task counts.</summary>
    /// <param name="schedule">Only the runs this schedule started.</param>
    public async Task<IReadOnlyList<DagRunSummary>> ListAsync(bool all, CancellationToken ct = default, long afterId = 0, int take = 1000, string? schedule = null)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var runs = db.DagRuns.AsNoTracking().Where(r => r.Id > afterId);
        if (!all) runs = runs.Where(r => Active.Contains(r.State));
        if (!string.IsNullOrWhiteSpace(schedule)) runs = runs.Where(r => r.ScheduleName == schedule);
        var list = await runs.OrderBy(r => r.Id).Take(take).ToListAsync(ct);
        var ids = list.Select(r => r.Id).ToList();
        var counts = await db.Executions.AsNoTracking().Where(e => e.DagRunId != null && ids.Contains(e.DagRunId.Value))
            .GroupBy(e => new { e.DagRunId, e.State })
            .Select(g => new { g.Key.DagRunId, g.Key.State, Count = g.Count(), Last = g.Max(e => e.UpdatedAt) })
            .ToListAsync(ct);
        var byRun = counts.ToLookup(c => c.DagRunId!.Value);
        return list.Select(r =>
        {
            var rows = byRun[r.Id].ToList();
            var last = rows.Count == 0 ? r.UpdatedAt : new[] { r.UpdatedAt, rows.Max(x => x.Last) }.Max();
            return new DagRunSummary(r, rows.ToDictionary(x => x.State, x => x.Count), last);
        }).ToList();
    }

    public async Task<DagRunDetail?> GetAsync(long runId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var run = await db.DagRuns.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, ct);
        if (run is null) return null;
        var changes = await db.DagRunStateChanges.AsNoTracking().Where(c => c.DagRunId == runId).OrderBy(c => c.Id).ToListAsync(ct);
        var tasks = await db.Executions.AsNoTracking().Where(e => e.DagRunId == runId).OrderBy(e => e.Id).ToListAsync(ct);
        var edges = await db.DagEdges.AsNoTracking().Where(e => e.DagRunId == runId).ToListAsync(ct);
        var taskIds = db.Executions.Where(e => e.DagRunId == runId).Select(e => e.Id);
        var attempts = await db.Attempts.AsNoTracking().Where(a => taskIds.Contains(a.ExecutionId))
            .OrderBy(a => a.ExecutionId).ThenBy(a => a.Number).ToListAsync(ct);
        var logRows = await db.LogEntries.AsNoTracking().Where(l => taskIds.Contains(l.ExecutionId)).OrderBy(l => l.Id)
            .Select(l => new { l.ExecutionId, l.AttemptNumber, l.Stream, l.Text }).ToListAsync(ct);
        var logs = logRows.GroupBy(r => (r.ExecutionId, r.AttemptNumber, r.Stream)).ToDictionary(g => g.Key, g => string.Concat(g.Select(r => r.Text)));
        return new DagRunDetail(run, changes, tasks, edges, attempts, logs);
    }

    /// <summary>The run and its state history: the head of a streamed answer (null: no such run).</summary>
    public async Task<(DagRun Run, IReadOnlyList<DagRunStateChange> Changes)?> GetHeadAsync(long runId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var run = await db.DagRuns.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, ct);
        if (run is null) return null;
        var changes = await db.DagRunStateChanges.AsNoTracking().Where(c => c.DagRunId == runId).OrderBy(c => c.Id).ToListAsync(ct);
        return (run, changes);
    }

    /// <summary>A page of the run's tasks after <paramref name="afterId"/>, in id order.</summary>
    public async Task<IReadOnlyList<Execution>> TaskPageAsync(long runId, long afterId, int take, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Executions.AsNoTracking().Where(e => e.DagRunId == runId && e.Id > afterId).OrderBy(e => e.Id).Take(take).ToListAsync(ct);
    }

    /// <summary>A page of the run's tasks as (id, name, state) only.</summary>
    public async Task<IReadOnlyList<(long Id, string Name, ExecutionState State)>> TaskStatePageAsync(long runId, long afterId, int take, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Executions.AsNoTracking().Where(e => e.DagRunId == runId && e.Id > afterId).OrderBy(e => e.Id).Take(take)
            .Select(e => new { e.Id, Name = e.DagTaskName ?? e.Name, e.State }).ToListAsync(ct);
        return rows.Select(r => (r.Id, r.Name, r.State)).ToList();
    }

    /// <summary>The names of the parents and of the children of each of these tasks, each list in ordinal order.</summary>
    /// <remarks>
    /// Read row by row into one list per task and sorted in place: a root with 200,000 children is held once (its
    /// names), not also as rows, groupings and a sorted copy — the streamed GET of such a run is bounded by it.
    /// </remarks>
    public async Task<(IReadOnlyDictionary<long, IReadOnlyList<string>> Parents, IReadOnlyDictionary<long, IReadOnlyList<string>> Children)> NeighbourNamesAsync(
        IReadOnlyList<long> ids, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var parents = await SortedByTaskAsync(db.DagEdges.AsNoTracking().Where(e => ids.Contains(e.ChildExecutionId))
            .Join(db.Executions, e => e.ParentExecutionId, x => x.Id, (e, x) => new Neighbour(e.ChildExecutionId, x.DagTaskName ?? x.Name)), ct);
        var children = await SortedByTaskAsync(db.DagEdges.AsNoTracking().Where(e => ids.Contains(e.ParentExecutionId))
            .Join(db.Executions, e => e.ChildExecutionId, x => x.Id, (e, x) => new Neighbour(e.ParentExecutionId, x.DagTaskName ?? x.Name)), ct);
        return (parents, children);
    }

    private sealed record Neighbour(long TaskId, string Name);

    private static async Task<IReadOnlyDictionary<long, IReadOnlyList<string>>> SortedByTaskAsync(IQueryable<Neighbour> rows, CancellationToken ct)
    {
        var byTask = new Dictionary<long, List<string>>();
        await foreach (var row in rows.AsAsyncEnumerable().WithCancellation(ct))
        {
            if (!byTask.TryGetValue(row.TaskId, out var names)) byTask[row.TaskId] = names = [];
            names.Add(row.Name);
        }
        foreach (var names in byTask.Values) names.Sort(StringComparer.Ordinal);
        return byTask.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value);
    }

    /// <summary>The closed attempts of these tasks, with their three logs.</summary>
    public async Task<(IReadOnlyList<Attempt> Attempts, IReadOnlyDictionary<(long ExecutionId, int Attempt, LogStream Stream), string> Logs)> ClosedAttemptsAsync(
        IReadOnlyList<long> ids, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var attempts = await db.Attempts.AsNoTracking().Where(a => ids.Contains(a.ExecutionId) && a.FinishedAt != null)
            .OrderBy(a => a.ExecutionId).ThenBy(a => a.Number).ToListAsync(ct);
        if (attempts.Count == 0) return (attempts, new Dictionary<(long, int, LogStream), string>());
        var withAttempts = attempts.Select(a => a.ExecutionId).Distinct().ToList();
        var logRows = await db.LogEntries.AsNoTracking().Where(l => withAttempts.Contains(l.ExecutionId)).OrderBy(l => l.Id)
            .Select(l => new { l.ExecutionId, l.AttemptNumber, l.Stream, l.Text }).ToListAsync(ct);
        return (attempts, logRows.GroupBy(r => (r.ExecutionId, r.AttemptNumber, r.Stream)).ToDictionary(g => g.Key, g => string.Concat(g.Select(r => r.Text))));
    }

    public async Task<DagTaskDetail?> GetTaskAsync(long runId, string taskName, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var task = await db.Executions.AsNoTracking().FirstOrDefaultAsync(e => e.DagRunId == runId && e.DagTaskName == taskName, ct);
        if (task is null) return null;
        var parents = await db.DagEdges.Where(e => e.ChildExecutionId == task.Id)
            .Join(db.Executions, e => e.ParentExecutionId, x => x.Id, (_, x) => x.DagTaskName ?? x.Name).ToListAsync(ct);
        var children = await db.DagEdges.Where(e => e.ParentExecutionId == task.Id)
            .Join(db.Executions, e => e.ChildExecutionId, x => x.Id, (_, x) => x.DagTaskName ?? x.Name).ToListAsync(ct);
        return new DagTaskDetail(task, parents.Order(StringComparer.Ordinal).ToList(), children.Order(StringComparer.Ordinal).ToList());
    }

    /// <summary>
    /// Pending tasks that cannot start because an ancestor ended without succeeding (failed for good, killed, lost…):
    /// "blocked by an upstream failure" until the run is restarted.
    /// </summary>
    public async Task<IReadOnlySet<long>> BlockedAsync(long runId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var states = await db.Executions.AsNoTracking().Where(e => e.DagRunId == runId).Select(e => new { e.Id, e.State }).ToDictionaryAsync(e => e.Id, e => e.State, ct);
        var children = (await db.DagEdges.AsNoTracking().Where(e => e.DagRunId == runId).ToListAsync(ct)).ToLookup(e => e.ParentExecutionId, e => e.ChildExecutionId);
        var blocked = new HashSet<long>();
        var queue = new Queue<long>(states.Where(s => s.Value.IsTerminal() && s.Value != ExecutionState.Succeeded).Select(s => s.Key));
        while (queue.Count > 0)
            foreach (var child in children[queue.Dequeue()])
                if (states.GetValueOrDefault(child) == ExecutionState.Pending && blocked.Add(child)) queue.Enqueue(child);
        return blocked;
    }

    public async Task<bool> RunExistsAsync(long runId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.DagRuns.AnyAsync(r => r.Id == runId, ct);
    }

    /// <summary>One page of the console's run list, newest first.</summary>
    public async Task<(IReadOnlyList<DagRunListItem> Items, int Total)> PageAsync(DagRunState? state, string? tag, int skip, int take, CancellationToken ct = default,
        string? schedule = null)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var query = db.DagRuns.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(schedule)) query = query.Where(r => r.ScheduleName == schedule);
        if (state is { } s) query = query.Where(r => r.State == s);
        if (!string.IsNullOrWhiteSpace(tag)) query = query.Where(r => r.Tag.Contains(tag));
        var total = await query.CountAsync(ct);
        var runs = await query.OrderByDescending(r => r.Id).Skip(skip).Take(take).ToListAsync(ct);
        var ids = runs.Select(r => r.Id).ToList();
        var counts = await db.Executions.AsNoTracking().Where(e => e.DagRunId != null && ids.Contains(e.DagRunId.Value))
            .GroupBy(e => new { e.DagRunId, e.State }).Select(g => new { g.Key.DagRunId, g.Key.State, Count = g.Count() }).ToListAsync(ct);
        var byRun = counts.GroupBy(c => c.DagRunId!.Value).ToDictionary(g => g.Key, g => (IReadOnlyDictionary<ExecutionState, int>)g.ToDictionary(c => c.State, c => c.Count));
        return (runs.Select(r => new DagRunListItem(r, byRun.GetValueOrDefault(r.Id) ?? new Dictionary<ExecutionState, int>())).ToList(), total);
    }

    /// <summary>A run as the graph and grid views draw it: tasks without arguments, results or logs.</summary>
    public async Task<DagRunGraph?> GetGraphAsync(long id, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var run = await db.DagRuns.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct);
        if (run is null) return null;
        var tasks = await db.Executions.AsNoTracking().Where(e => e.DagRunId == id).OrderBy(e => e.Id)
            .Select(e => new DagTaskNode(e.Id, e.DagTaskName ?? e.Name, e.State, e.AttemptCount, e.StartedAt, e.FinishedAt)).ToListAsync(ct);
        var edges = await db.DagEdges.AsNoTracking().Where(e => e.DagRunId == id).ToListAsync(ct);
        var history = await db.DagRunStateChanges.AsNoTracking().Where(h => h.DagRunId == id).OrderBy(h => h.Id).ToListAsync(ct);
        return new DagRunGraph(run, tasks, edges, history);
    }

    /// <summary>Every attempt of every task in the run, for the grid view.</summary>
    public async Task<IReadOnlyList<DagTaskAttempt>> AttemptsAsync(long id, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Attempts.AsNoTracking()
            .Join(db.Executions.Where(e => e.DagRunId == id), a => a.ExecutionId, e => e.Id, (a, _) => a)
            .OrderBy(a => a.ExecutionId).ThenBy(a => a.Number)
            .Select(a => new DagTaskAttempt(a.ExecutionId, a.Number, a.Outcome, a.StartedAt, a.FinishedAt)).ToListAsync(ct);
    }
}
