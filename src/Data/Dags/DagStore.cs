using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Dags;

/// <summary>DAG rows through EF Core. The executions themselves are written by the engine's store; this only reads them.</summary>
public sealed class DagStore(IDbContextFactory<TaskdeckDbContext> contexts) : IDagStore
{
    public async Task<long> CreateRunAsync(string tag, string specJson, string parametersJson, DateTimeOffset at, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var run = new DagRun { Tag = tag, State = DagRunState.Queued, SpecJson = specJson, ParametersJson = parametersJson, CreatedAt = at, UpdatedAt = at };
        db.DagRuns.Add(run);
        await db.SaveChangesAsync(ct);
        db.DagRunStateChanges.Add(new DagRunStateChange { DagRunId = run.Id, At = at, State = DagRunState.Queued });
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return run.Id;
    }

    public async Task AddEdgesAsync(long runId, IReadOnlyList<(long Parent, long Child)> edges, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        db.ChangeTracker.AutoDetectChangesEnabled = false;
        db.DagEdges.AddRange(edges.Select(e => new DagEdge { DagRunId = runId, ParentExecutionId = e.Parent, ChildExecutionId = e.Child }));
        await db.SaveChangesAsync(ct);
    }

    public async Task<DagRun?> FindRunAsync(long runId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.DagRuns.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, ct);
    }

    public async Task<IReadOnlyList<DagTaskRow>> TasksAsync(long runId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await Rows(db.Executions.AsNoTracking().Where(e => e.DagRunId == runId).OrderBy(e => e.Id)).ToListAsync(ct);
    }

    public async Task<DagTaskRow?> FindTaskAsync(long runId, string taskName, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await Rows(db.Executions.AsNoTracking().Where(e => e.DagRunId == runId && e.DagTaskName == taskName)).FirstOrDefaultAsync(ct);
    }

    public async Task<IReadOnlyList<DagEdge>> EdgesAsync(long runId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.DagEdges.AsNoTracking().Where(e => e.DagRunId == runId).ToListAsync(ct);
    }

    public async Task<IReadOnlyList<DagTaskRow>> ReadyChildrenAsync(long parentExecutionId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var children = db.DagEdges.Where(e => e.ParentExecutionId == parentExecutionId).Select(e => e.ChildExecutionId);
        var ready = db.Executions.AsNoTracking()
            .Where(c => children.Contains(c.Id) && c.State == ExecutionState.Pending)
            .Where(c => !db.DagEdges.Any(p => p.ChildExecutionId == c.Id
                && db.Executions.Any(x => x.Id == p.ParentExecutionId && x.State != ExecutionState.Succeeded)));
        return await Rows(ready).ToListAsync(ct);
    }

    public async Task<IReadOnlyDictionary<ExecutionState, int>> CountByStateAsync(long runId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Executions.AsNoTracking().Where(e => e.DagRunId == runId)
            .GroupBy(e => e.State).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(ct);
        return rows.ToDictionary(r => r.Key, r => r.Count);
    }

    public async Task<bool> AnyReleasableAsync(long runId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Executions.AsNoTracking()
            .Where(c => c.DagRunId == runId && c.State == ExecutionState.Pending)
            .AnyAsync(c => !db.DagEdges.Any(p => p.ChildExecutionId == c.Id
                && db.Executions.Any(x => x.Id == p.ParentExecutionId && x.State != ExecutionState.Succeeded)), ct);
    }

    public async Task<bool> SetStateAsync(long runId, IReadOnlyCollection<DagRunState> from, DagRunState to, DateTimeOffset at, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var states = from.ToList();
        var updated = await db.DagRuns.Where(r => r.Id == runId && states.Contains(r.State))
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.State, to).SetProperty(r => r.UpdatedAt, at), ct);
        if (updated != 1) return false;
        db.DagRunStateChanges.Add(new DagRunStateChange { DagRunId = runId, At = at, State = to });
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    public async Task<string> OutputTextAsync(long executionId, int attempt, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var chunks = await db.LogEntries.AsNoTracking()
            .Where(l => l.ExecutionId == executionId && l.AttemptNumber == attempt && l.Stream == LogStream.Output)
            .OrderBy(l => l.Id).Select(l => l.Text).ToListAsync(ct);
        return string.Concat(chunks);
    }

    private static IQueryable<DagTaskRow> Rows(IQueryable<Execution> query) =>
        query.Select(e => new DagTaskRow(e.Id, e.DagTaskName ?? e.Name, e.State, e.AttemptCount, e.Priority, e.Kind, e.IsGenerator));
}
