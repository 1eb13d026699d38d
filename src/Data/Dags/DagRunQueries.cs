using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Dags;

public sealed record DagRunListItem(DagRun Run, IReadOnlyDictionary<ExecutionState, int> TaskCounts)
{
    public int TaskCount => TaskCounts.Values.Sum();
}

/// <summary>One task of a run as the graph and grid draw it: no arguments, results or logs.</summary>
public sealed record DagTaskNode(long ExecutionId, string Name, ExecutionState State, int AttemptCount, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt);

public sealed record DagTaskAttempt(long ExecutionId, int Number, ExecutionState Outcome, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt);

public sealed record DagRunGraph(DagRun Run, IReadOnlyList<DagTaskNode> Tasks, IReadOnlyList<DagEdge> Edges, IReadOnlyList<DagRunStateChange> History);

/// <summary>Read models for the DAG run pages, straight from the DagRuns, DagEdges and Executions tables.</summary>
public sealed class DagRunQueries(IDbContextFactory<TaskdeckDbContext> contexts)
{
    public async Task<(IReadOnlyList<DagRunListItem> Items, int Total)> PageAsync(DagRunState? state, string? tag, int skip, int take, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var query = db.DagRuns.AsNoTracking();
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

    public async Task<DagRunGraph?> GetAsync(long id, CancellationToken ct = default)
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
