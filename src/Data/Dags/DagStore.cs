using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
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

    /// <summary>Multi-row inserts in one transaction: 10,000 edges cost a few dozen statements, not 10,000.</summary>
    public async Task AddEdgesAsync(long runId, IReadOnlyList<(long Parent, long Child)> edges, CancellationToken ct = default)
    {
        const int RowsPerStatement = 300; // 3 parameters a row stays under SQL Server's 2,100
        await using var db = await contexts.CreateDbContextAsync(ct);
        await db.Database.OpenConnectionAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var connection = db.Database.GetDbConnection();
        var dbTransaction = transaction.GetDbTransaction();
        for (var start = 0; start < edges.Count; start += RowsPerStatement)
        {
            var count = Math.Min(RowsPerStatement, edges.Count - start);
            var text = new System.Text.StringBuilder("INSERT INTO \"DagEdges\" (\"DagRunId\", \"ParentExecutionId\", \"ChildExecutionId\") VALUES ");
            var parameters = new List<(string, object?)>(count * 2 + 1) { ("Run", runId) };
            for (var i = 0; i < count; i++)
            {
                if (i > 0) text.Append(", ");
                text.Append($"(@Run, @P{i}, @C{i})");
                parameters.Add(($"P{i}", edges[start + i].Parent));
                parameters.Add(($"C{i}", edges[start + i].Child));
            }
            await Sql.ExecuteAsync(connection, dbTransaction, text.ToString(), [.. parameters]);
        }
        await transaction.CommitAsync(ct);
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

    public async Task<IReadOnlyList<DagTaskRow>> ReadyTasksAsync(long runId, DateTimeOffset orphanedBefore, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var ready = db.Executions.AsNoTracking()
            .Where(c => c.DagRunId == runId && c.State == ExecutionState.Pending)
            // A task is stored before its edges: one without any yet is being added (not ready), unless it is a root
            // whose submit never got to release it.
            .Where(c => db.DagEdges.Any(p => p.ChildExecutionId == c.Id) || c.CreatedAt < orphanedBefore)
            .Where(c => !db.DagEdges.Any(p => p.ChildExecutionId == c.Id
                && db.Executions.Any(x => x.Id == p.ParentExecutionId && x.State != ExecutionState.Succeeded)));
        return await Rows(ready).ToListAsync(ct);
    }

    public async Task<IReadOnlyList<long>> ActiveRunIdsAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.DagRuns.AsNoTracking().Where(r => r.State == DagRunState.Queued || r.State == DagRunState.Running)
            .OrderBy(r => r.Id).Select(r => r.Id).ToListAsync(ct);
    }

    public async Task<DagProgress> ProgressAsync(long runId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Database.SqlQueryRaw<StateCount>(ProgressSql, runId).ToListAsync(ct);
        return new DagProgress(
            rows.Where(r => r.State >= 0).ToDictionary(r => (ExecutionState)r.State, r => (int)r.Count),
            (int)rows.Where(r => r.State < 0).Sum(r => r.Count));
    }

    // One statement, so both parts see the same moment on every provider (whatever its isolation level).
    private static readonly string ProgressSql =
        "SELECT \"State\" AS \"State\", CAST(COUNT(*) AS BIGINT) AS \"Count\" FROM \"Executions\" WHERE \"DagRunId\" = {0} GROUP BY \"State\" " +
        "UNION ALL " +
        "SELECT -1 AS \"State\", CAST(COUNT(*) AS BIGINT) AS \"Count\" FROM \"Executions\" c WHERE c.\"DagRunId\" = {0} AND c.\"State\" = " + (int)ExecutionState.Pending +
        " AND NOT EXISTS (SELECT 1 FROM \"DagEdges\" p JOIN \"Executions\" x ON x.\"Id\" = p.\"ParentExecutionId\" " +
        "WHERE p.\"ChildExecutionId\" = c.\"Id\" AND x.\"State\" <> " + (int)ExecutionState.Succeeded + ")";

    private sealed class StateCount
    {
        public int State { get; set; }
        public long Count { get; set; }
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
