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

/// <summary>Read models for daggy's API and the console.</summary>
public sealed class DagQueries(IDbContextFactory<TaskdeckDbContext> contexts)
{
    public static readonly DagRunState[] Active = [DagRunState.Queued, DagRunState.Running];

    public async Task<IReadOnlyList<DagRunSummary>> ListAsync(bool all, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var runs = db.DagRuns.AsNoTracking();
        if (!all) runs = runs.Where(r => Active.Contains(r.State));
        var list = await runs.OrderBy(r => r.Id).ToListAsync(ct);
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
}
