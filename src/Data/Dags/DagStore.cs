using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Schedules;
using Taskdeck.Data.Storage;
using static Taskdeck.Data.Storage.Schema;

namespace Taskdeck.Data.Dags;

/// <summary>
/// DAG rows. Writes go through the engine's <see cref="WriteQueue"/> (one writer connection, group commit), so on
/// SQLite they never contend with the engine's own writes; reads use EF Core, except the scheduler's per-success questions.
/// Executions are written by the engine.
/// </summary>
public sealed class DagStore(IDbContextFactory<TaskdeckDbContext> contexts, TaskdeckDatabase database, WriteQueue writes, KeptReaders readers) : IDagStore
{
    private static readonly string[] RunColumns =
    [
        DagRunColumns.Tag, DagRunColumns.State, DagRunColumns.SpecJson, DagRunColumns.ParametersJson, DagRunColumns.MayRunCommands,
        DagRunColumns.CreatedAt, DagRunColumns.UpdatedAt,
    ];

    private readonly string _insertRun = database.InsertReturningId(DagRunColumns.Table, DagRunColumns.Id, RunColumns);

    private readonly string _insertScheduledRun = database.InsertReturningId(DagRunColumns.Table, DagRunColumns.Id,
        [.. RunColumns, DagRunColumns.ScheduleName, DagRunColumns.ScheduleSlot]);

    private const string InsertRunStateChange =
        $"INSERT INTO {DagRunStateChangeColumns.Table} ({DagRunStateChangeColumns.DagRunId}, {DagRunStateChangeColumns.At}, {DagRunStateChangeColumns.State}) " +
        "VALUES (@Run, @At, @State)";

    public Task<long> CreateRunAsync(string tag, string specJson, string parametersJson, bool mayRunCommands, DateTimeOffset at, CancellationToken ct = default) =>
        writes.RunAsync(async (c, t) =>
        {
            var micros = Sql.Micros(at);
            var id = Convert.ToInt64(await Sql.ScalarAsync(c, t, _insertRun, ("Tag", tag), ("State", (int)DagRunState.Queued), ("SpecJson", specJson),
                ("ParametersJson", parametersJson), ("MayRunCommands", mayRunCommands), ("CreatedAt", micros), ("UpdatedAt", micros)));
            await Sql.ExecuteAsync(c, t, InsertRunStateChange, ("Run", id), ("At", micros), ("State", (int)DagRunState.Queued));
            return id;
        }, ct);

    public Task<long?> CreateClaimedRunAsync(SlotClaim claim, string tag, string specJson, string parametersJson, bool mayRunCommands, DateTimeOffset at, CancellationToken ct = default) =>
        writes.RunAsync<long?>(async (c, t) =>
        {
            if (await SlotClaims.ClaimAsync(database, c, t, claim, FiringOutcome.Started) is not { } firing) return null;
            var micros = Sql.Micros(at);
            var id = Convert.ToInt64(await Sql.ScalarAsync(c, t, _insertScheduledRun, ("Tag", tag), ("State", (int)DagRunState.Queued), ("SpecJson", specJson),
                ("ParametersJson", parametersJson), ("MayRunCommands", mayRunCommands), ("CreatedAt", micros), ("UpdatedAt", micros), ("ScheduleName", claim.ScheduleName),
                ("ScheduleSlot", Sql.Micros(claim.Slot))));
            await Sql.ExecuteAsync(c, t, InsertRunStateChange, ("Run", id), ("At", micros), ("State", (int)DagRunState.Queued));
            await SlotClaims.AttachAsync(c, t, firing, executionId: null, dagRunId: id);
            return id;
        }, ct);

    /// <summary>Multi-row inserts in one transaction: 10,000 edges cost a few dozen statements, not 10,000.</summary>
    public Task AddEdgesAsync(long runId, IReadOnlyList<(long Parent, long Child)> edges, CancellationToken ct = default) =>
        writes.RunAsync(async (c, t) =>
        {
            await BulkInsert.InsertAsync(database, c, t, DagEdgeColumns.Table, [DagEdgeColumns.DagRunId, DagEdgeColumns.ParentExecutionId, DagEdgeColumns.ChildExecutionId],
                edges.Select(e => new object?[] { runId, e.Parent, e.Child }).ToList());
            return true;
        }, ct);

    public async Task<DagRun?> FindRunAsync(long runId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.DagRuns.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, ct);
    }

    private const string RunStateSql = $"SELECT {DagRunColumns.State} FROM {DagRunColumns.Table} WHERE {DagRunColumns.Id} = @Run";

    public async Task<DagRunState?> RunStateAsync(long runId, CancellationToken ct = default) =>
        await readers.ReadAsync(RunStateSql, [("Run", runId)], r => (DagRunState)Convert.ToInt32(r.GetValue(0)), ct) is [var state] ? state : null;

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

    // The three questions below are asked at every DAG task's success (a 10,000-task fan-in asks them 10,000 times):
    // plain statements on kept connections, not EF queries, whose translation and connection opening cost several
    // times the reads themselves.

    private const string TaskRowColumns =
        $"x.{ExecutionColumns.Id}, COALESCE(x.{ExecutionColumns.DagTaskName}, x.{ExecutionColumns.Name}), x.{ExecutionColumns.State}, " +
        $"x.{ExecutionColumns.AttemptCount}, x.{ExecutionColumns.Priority}, x.{ExecutionColumns.Kind}, x.{ExecutionColumns.IsGenerator}";

    private static DagTaskRow ReadTaskRow(System.Data.Common.DbDataReader r, int first = 0) => new(
        Convert.ToInt64(r.GetValue(first)), r.GetString(first + 1), (ExecutionState)Convert.ToInt32(r.GetValue(first + 2)), Convert.ToInt32(r.GetValue(first + 3)),
        Convert.ToInt32(r.GetValue(first + 4)), (ExecutorKind)Convert.ToInt32(r.GetValue(first + 5)), Convert.ToBoolean(r.GetValue(first + 6)));

    // Read from the parent's edges, each child by its key, and the waiting ones kept here: with "State = Pending" in the
    // statement PostgreSQL's planner walked the run's waiting tasks by the state index and probed each for an edge from this
    // parent (its statistics, taken before a run is stored, say few tasks wait) — 500 probes a success half-way down a
    // 1,000-task chain, 2 ms of server time (BENCHMARKS.md session 19). A parent's children are almost all still waiting
    // when it succeeds, so reading the others costs nothing. Whether a child has another parent is found in its edge index:
    // on PostgreSQL only because the planner is told children have few parents each (the migration
    // DagEdgesByChildThenParent) — statistics that counted a join's 10,000 edges made it expect EXISTS to match early in a
    // scan of the whole edge table, which it then read from the start at every success (BENCHMARKS.md, session 34).
    internal static readonly string ChildrenSql = ChildrenOf(parent: "@Parent", hinted: "@Hinted");

    // One parent's children: the single read and each parent's part of the shared read are this one text.
    private static string ChildrenOf(string parent, string hinted) =>
        $"SELECT {TaskRowColumns}, CASE WHEN EXISTS (SELECT 1 FROM {DagEdgeColumns.Table} o WHERE o.{DagEdgeColumns.ChildExecutionId} = x.{ExecutionColumns.Id} " +
        $"AND o.{DagEdgeColumns.ParentExecutionId} <> {parent}) THEN 1 ELSE 0 END, " +
        $"(SELECT h.{ExecutionColumns.State} FROM {ExecutionColumns.Table} h WHERE h.{ExecutionColumns.Id} = {hinted}) " +
        $"FROM {DagEdgeColumns.Table} d JOIN {ExecutionColumns.Table} x ON x.{ExecutionColumns.Id} = d.{DagEdgeColumns.ChildExecutionId} " +
        $"WHERE d.{DagEdgeColumns.ParentExecutionId} = {parent}";

    public async Task<IReadOnlyList<DagChild>> PendingChildrenAsync(long parentExecutionId, long hinted = 0,
        CancellationToken ct = default) =>
        (_children is { } coalesced ? await coalesced.ReadAsync((parentExecutionId, hinted), ct) : await ChildrenOfAsync(readers, (parentExecutionId, hinted), ct))
            .Where(child => child.Task.State == ExecutionState.Pending).ToList();

    // A shared read serves several callers, so no one caller's token cancels it (each caller stops waiting on its own).
    private static Task<List<DagChild>> ChildrenOfAsync(KeptReaders readers, (long Parent, long Hinted) asked,
        CancellationToken ct = default) =>
        readers.ReadAsync(ChildrenSql, [("Parent", asked.Parent), ("Hinted", asked.Hinted)], r => ReadChild(r, 0), ct);

    private static DagChild ReadChild(System.Data.Common.DbDataReader r, int first) =>
        new(ReadTaskRow(r, first), OtherParents: Convert.ToInt32(r.GetValue(first + 7)) != 0,
            Hinted: r.IsDBNull(first + 8) ? null : (ExecutionState)Convert.ToInt32(r.GetValue(first + 8)));

    // PostgreSQL: the successes of a busy fan-in ask at once (a few per commit of their closes), each a round trip and a
    // statement's fixed cost on the server; gathered, one statement reads the children of every parent asked meanwhile.
    private readonly CoalescedReads<(long Parent, long Hinted), List<DagChild>>? _children =
        database.Provider == Core.StorageProvider.PostgreSql ? new(asked => ChildrenOfAsync(readers, asked), asked => ChildrenOfManyAsync(readers, asked)) : null;

    /// <summary>How many children reads were answered by a statement shared with others since the start.</summary>
    internal long ChildrenReadTogether => _children?.AnsweredTogether ?? 0;

    // As ChildrenSql, for many parents: each row names its request's position (from 1). Each parent's children are read by
    // its edges in a subquery of their own (OFFSET 0 keeps the planner from flattening it into a join): as one join, the
    // prepared statement's generic plan, not knowing how many parents come, hashed the whole edge table at every read —
    // 3.9 ms a read in a 10,000-task fan-in, five times the reads it replaced.
    internal static readonly string ChildrenOfManySql =
        $"SELECT q.i, c.* FROM unnest(@Parents, @Hinted) WITH ORDINALITY AS q(p, h, i) CROSS JOIN LATERAL ({ChildrenOf(parent: "q.p", hinted: "q.h")} OFFSET 0) c";

    private static async Task<IReadOnlyList<List<DagChild>>> ChildrenOfManyAsync(KeptReaders readers,
        IReadOnlyList<(long Parent, long Hinted)> asked)
    {
        var rows = await readers.ReadAsync(ChildrenOfManySql,
            [("Parents", asked.Select(a => a.Parent).ToArray()), ("Hinted", asked.Select(a => a.Hinted).ToArray())],
            r => (Position: Convert.ToInt32(r.GetValue(0)), Child: ReadChild(r, 1)), CancellationToken.None);
        var answers = asked.Select(_ => new List<DagChild>()).ToList();
        foreach (var (position, child) in rows) answers[position - 1].Add(child);
        return answers;
    }

    // The highest id is the latest created: a blocker likely among the last to run, so the next successes find it still
    // blocking. Read down the child's parents in id order (its edge index) and stop at the first one not succeeded: a
    // MAX over the parents visited all 10,000 of a big join's at every change of its blocker, 80 ms of server time each
    // (BENCHMARKS.md, session 34); from the top, the parents passed over are only those that succeeded since.
    internal string UnsucceededParentSql { get; } = database.SelectFirst($"{UnsucceededParentColumns} {UnsucceededParentFrom}");

    private const string ParentState =
        $"(SELECT p.{ExecutionColumns.State} FROM {ExecutionColumns.Table} p WHERE p.{ExecutionColumns.Id} = d.{DagEdgeColumns.ParentExecutionId})";

    // The parent's state as a scalar subquery, not a join (written twice, read twice only for the one row returned): a join let PostgreSQL's planner (estimating a child's parents
    // from no statistics) hash every unsucceeded execution and sort, where this can only filter the edges it walks.
    private const string UnsucceededParentColumns = $"d.{DagEdgeColumns.ParentExecutionId}, {ParentState}";

    private const string UnsucceededParentFrom =
        $"FROM {DagEdgeColumns.Table} d WHERE d.{DagEdgeColumns.ChildExecutionId} = @Child AND {ParentState} <> @Succeeded " +
        $"ORDER BY d.{DagEdgeColumns.ParentExecutionId} DESC";

    public async Task<(long Id, ExecutionState State)?> UnsucceededParentAsync(long childExecutionId, CancellationToken ct = default) =>
        await readers.ReadAsync(UnsucceededParentSql, [("Child", childExecutionId), ("Succeeded", (int)ExecutionState.Succeeded)],
            r => (Convert.ToInt64(r.GetValue(0)), (ExecutionState)Convert.ToInt32(r.GetValue(1))), ct) is [var blocker, ..] ? blocker : null;

    // The in-flight states are one range of values (ExecutionStates.IsInFlight), so the first of a run's tasks in that range
    // by State is the first entry of its (DagRunId, State) index there, and the read stops at it. With EXISTS, once
    // statistics had counted a big run's tasks PostgreSQL expected an early match in a scan of the whole table and read
    // it from the start, 87 ms at each end of a task; with MIN, estimating one row, it read all the run's in-flight
    // tasks to aggregate them (40 ms at the start of a 10,000-task fan-in). In index order with a limit, neither pays.
    internal string HasActiveTasksSql { get; } = database.SelectFirst(InFlightTaskFrom);

    private const string InFlightTaskFrom =
        $"x.{ExecutionColumns.State} FROM {ExecutionColumns.Table} x WHERE x.{ExecutionColumns.DagRunId} = @Run " +
        $"AND x.{ExecutionColumns.State} >= @First AND x.{ExecutionColumns.State} <= @Last ORDER BY x.{ExecutionColumns.State}";

    private static readonly (int First, int Last) InFlightStates = ((int)ExecutionStates.InFlight.Min(), (int)ExecutionStates.InFlight.Max());

    public async Task<bool> HasActiveTasksAsync(long runId, CancellationToken ct = default) =>
        (await readers.ReadAsync(HasActiveTasksSql, [("Run", runId), ("First", InFlightStates.First), ("Last", InFlightStates.Last)],
            r => r.GetValue(0), ct)).Count > 0;

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
    // {{0}}: the run id, bound by SqlQueryRaw. "State" and "Count" name StateCount's properties, not columns.
    private static readonly string ProgressSql =
        $"SELECT {ExecutionColumns.State} AS \"State\", CAST(COUNT(*) AS BIGINT) AS \"Count\" FROM {ExecutionColumns.Table} WHERE {ExecutionColumns.DagRunId} = {{0}} " +
        $"GROUP BY {ExecutionColumns.State} " +
        "UNION ALL " +
        $"SELECT -1 AS \"State\", CAST(COUNT(*) AS BIGINT) AS \"Count\" FROM {ExecutionColumns.Table} c WHERE c.{ExecutionColumns.DagRunId} = {{0}} " +
        $"AND c.{ExecutionColumns.State} = {(int)ExecutionState.Pending} AND NOT EXISTS (SELECT 1 FROM {DagEdgeColumns.Table} p " +
        $"JOIN {ExecutionColumns.Table} x ON x.{ExecutionColumns.Id} = p.{DagEdgeColumns.ParentExecutionId} " +
        $"WHERE p.{DagEdgeColumns.ChildExecutionId} = c.{ExecutionColumns.Id} AND x.{ExecutionColumns.State} <> {(int)ExecutionState.Succeeded})";

    private sealed class StateCount
    {
        public int State { get; set; }
        public long Count { get; set; }
    }

    /// <summary>A compare-and-set on the run's state, with its history row in the same transaction.</summary>
    public Task<bool> SetStateAsync(long runId, IReadOnlyCollection<DagRunState> from, DagRunState to, DateTimeOffset at, CancellationToken ct = default) =>
        writes.RunAsync(async (c, t) =>
        {
            if (from.Count == 0) return false;
            var micros = Sql.Micros(at);
            var allowed = string.Join(", ", from.Select(f => (int)f));
            var updated = await Sql.ExecuteAsync(c, t,
                $"UPDATE {DagRunColumns.Table} SET {DagRunColumns.State} = @To, {DagRunColumns.UpdatedAt} = @At WHERE {DagRunColumns.Id} = @Run AND {DagRunColumns.State} IN ({allowed})",
                ("To", (int)to), ("At", micros), ("Run", runId));
            if (updated != 1) return false;
            await Sql.ExecuteAsync(c, t, InsertRunStateChange, ("Run", runId), ("At", micros), ("State", (int)to));
            return true;
        }, ct);

    public Task<IReadOnlyList<long>> RemoveUnstartedTasksAsync(long runId, IReadOnlyCollection<long> executionIds, CancellationToken ct = default) =>
        executionIds.Count == 0 ? Task.FromResult<IReadOnlyList<long>>([]) : writes.RunAsync<IReadOnlyList<long>>(async (c, t) =>
        {
            var removed = new List<long>();
            foreach (var id in executionIds)
            {
                (string, object?)[] key = [("Id", id), ("Run", runId), ("Pending", (int)ExecutionState.Pending)];
                const string Unstarted = $"{ExecutionColumns.Id} = @Id AND {ExecutionColumns.DagRunId} = @Run AND {ExecutionColumns.State} = @Pending AND {ExecutionColumns.AttemptCount} = 0";
                await Sql.ExecuteAsync(c, t, $"DELETE FROM {DagEdgeColumns.Table} WHERE ({DagEdgeColumns.ParentExecutionId} = @Id OR {DagEdgeColumns.ChildExecutionId} = @Id) " +
                    $"AND EXISTS (SELECT 1 FROM {ExecutionColumns.Table} WHERE {Unstarted})", key);
                await Sql.ExecuteAsync(c, t, $"DELETE FROM {StateChangeColumns.Table} WHERE {StateChangeColumns.ExecutionId} = @Id AND EXISTS (SELECT 1 FROM {ExecutionColumns.Table} WHERE {Unstarted})", key);
                if (await Sql.ExecuteAsync(c, t, $"DELETE FROM {ExecutionColumns.Table} WHERE {Unstarted}", key) == 1)
                    removed.Add(id);
            }
            return removed;
        }, ct);

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

    public async Task<IReadOnlyList<long>> RunTaskIdsAsync(long runId, long afterId, int take, IReadOnlyCollection<ExecutionState> states, CancellationToken ct = default)
    {
        var wanted = states.ToList();
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Executions.AsNoTracking().Where(e => e.DagRunId == runId && e.Id > afterId && wanted.Contains(e.State))
            .OrderBy(e => e.Id).Select(e => e.Id).Take(take).ToListAsync(ct);
    }

    public async Task<IReadOnlyList<long>> WithUnsucceededParentAsync(IReadOnlyList<long> ids, CancellationToken ct = default)
    {
        if (ids.Count == 0) return [];
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.DagEdges.AsNoTracking().Where(e => ids.Contains(e.ChildExecutionId)
                && db.Executions.Any(p => p.Id == e.ParentExecutionId && p.State != ExecutionState.Succeeded))
            .Select(e => e.ChildExecutionId).Distinct().ToListAsync(ct);
    }

    public async Task<int> CountTasksAsync(long runId, IReadOnlyCollection<ExecutionState> states, CancellationToken ct = default)
    {
        var wanted = states.ToList();
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Executions.CountAsync(e => e.DagRunId == runId && wanted.Contains(e.State), ct);
    }

    public async Task<DagTaskRow?> FirstTaskInAsync(long runId, IReadOnlyCollection<ExecutionState> states, CancellationToken ct = default)
    {
        var wanted = states.ToList();
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await Rows(db.Executions.AsNoTracking().Where(e => e.DagRunId == runId && wanted.Contains(e.State)).OrderBy(e => e.Id)).FirstOrDefaultAsync(ct);
    }
}
