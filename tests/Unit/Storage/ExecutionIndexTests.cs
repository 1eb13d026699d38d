using System.Data.Common;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dags;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Infrastructure;
using Taskdeck.Unit.MultiNode;

namespace Taskdeck.Unit.Storage;

/// <summary>
/// The Executions table's indexes are paid on every state change (State is a key, so each new version of a record is
/// written into every index). The indexes only DAG tasks and schedules' runs need are partial (<c>DagRunId</c> /
/// <c>ScheduleName</c> not null), so a plain execution writes none of them — and the queries that use them (a run's tasks
/// by state, a page at a time, by name; a schedule's runs) must still find them through those indexes on every provider.
/// </summary>
public abstract class ExecutionIndexTests
{
    protected abstract Task<Dictionary<string, string?>> SettingsAsync();

    /// <summary>
    /// The query plan's text for a statement with one parameter, @p. On PostgreSQL sequential scans are off unless
    /// <paramref name="tablesAnalysed"/>: a small table without statistics would otherwise be read whole.
    /// </summary>
    protected abstract Task<string> PlanAsync(DbConnection connection, string sql, object parameter, bool tablesAnalysed = false);

    /// <summary>Brings the planner's statistics up to date, as autovacuum does once enough rows changed.</summary>
    protected static async Task AnalyseAsync(DbConnection connection)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "ANALYZE";
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>A table read whole: PostgreSQL's "Seq Scan", SQLite's "SCAN t" (an index it searches reads "SEARCH").</summary>
    private static bool ReadsATableWhole(string plan) =>
        plan.Contains("Seq Scan") || Regex.IsMatch(plan, @"(^|\n)\s*SCAN \w+\s*($|\n)");

    protected static readonly NewExecution Noop = new() { Kind = ExecutorKind.Handler, Name = "demo.noop" };

    [Theory]
    // A run's tasks by state (is anything in flight), a page of them, one by name, and a schedule's unfinished runs.
    [InlineData("SELECT \"Id\" FROM \"Executions\" WHERE \"DagRunId\" = @p AND \"State\" IN (0, 1, 2)", "IX_Executions_DagRunId_")]
    [InlineData("SELECT \"Id\" FROM \"Executions\" WHERE \"DagRunId\" = @p AND \"Id\" > 0 ORDER BY \"Id\" LIMIT 100", "IX_Executions_DagRunId_")]
    [InlineData("SELECT \"Id\" FROM \"Executions\" WHERE \"DagRunId\" = @p AND \"DagTaskName\" = 'a'", "IX_Executions_DagRunId_")]
    [InlineData("SELECT \"Id\" FROM \"Executions\" WHERE \"ScheduleName\" = @p AND \"State\" IN (0, 1, 2, 3, 4)", "IX_Executions_ScheduleName_State")]
    // What runs on a node (the workers page, lease recovery), and what ended since a time, newest first (the dashboard).
    [InlineData("SELECT \"Id\" FROM \"Executions\" WHERE \"NodeId\" = @p AND \"State\" IN (3, 4) ORDER BY \"Id\" LIMIT 20", "IX_Executions_NodeId_State")]
    [InlineData("SELECT \"Name\", \"State\" FROM \"Executions\" WHERE \"FinishedAt\" >= @p ORDER BY \"FinishedAt\" DESC LIMIT 5000", "IX_Executions_FinishedAt_State")]
    // External work tasks running or cancelling (their timeouts and confirmed cancels, looked over every second).
    [InlineData("SELECT \"Id\" FROM \"Executions\" WHERE \"Kind\" = 2 AND \"State\" = 3 AND \"TimeoutSeconds\" IS NOT NULL AND \"Id\" > @p", "IX_Executions_External_State")]
    [InlineData("SELECT \"Id\" FROM \"Executions\" WHERE \"Kind\" = 2 AND \"State\" = 4 AND \"Id\" > @p", "IX_Executions_External_State")]
    public async Task QueriesByRunOrSchedule_UseTheirPartialIndexes(string sql, string index)
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        await storage.Get<ExecutionStore>().InsertAsync(Enumerable.Repeat((Noop, ExecutionState.Queued), 50).ToList(), DateTimeOffset.UtcNow, "test");
        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        var plan = await PlanAsync(connection, sql, sql.Contains("ScheduleName") ? "nightly" : sql.Contains("NodeId") ? "node-a" : 7L);
        Assert.Contains(index, plan);
    }

    /// <summary>
    /// At every DAG task's success its waiting children are read. That read starts from the parent's edges: it once named
    /// the waiting state too, and PostgreSQL walked every waiting task of the run by the state index, probing each for an
    /// edge — 500 probes, 2 ms, at each success half-way down a 1,000-task chain.
    /// </summary>
    [Fact]
    public async Task ASuccessReadsItsChildren_ThroughItsEdges_NotTheRunsWaitingTasks()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var dags = storage.Get<IDagStore>();
        var runId = await dags.CreateRunAsync("chain", "{}", "{}", false, DateTimeOffset.UtcNow);
        var store = storage.Get<ExecutionStore>();
        var ids = await store.InsertAsync(
            Enumerable.Range(0, 400).Select(i => (Noop with { DagRunId = runId, DagTaskName = $"t{i}" }, ExecutionState.Pending)).ToList(),
            DateTimeOffset.UtcNow, "test");
        // A chain, where t201 also waits for t0, and t200 has a second child already released (not waiting).
        var released = (await store.InsertAsync([(Noop with { DagRunId = runId, DagTaskName = "released" }, ExecutionState.Queued)], DateTimeOffset.UtcNow, "test"))[0];
        await dags.AddEdgesAsync(runId, [.. ids.Zip(ids.Skip(1)), (ids[200], released), (ids[0], ids[201])]);

        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        var plan = await PlanAsync(connection, DagStore.ChildrenSql.Replace("@Parent", "@p").Replace("@Hinted", "0"), ids[200]);
        Assert.Contains("IX_DagEdges_ParentExecutionId", plan);
        Assert.DoesNotContain("IX_Executions_State", plan);

        var children = await dags.PendingChildrenAsync(ids[200]);
        Assert.Equal([(ids[201], true)], children.Select(c => (c.Task.ExecutionId, c.OtherParents)));
        Assert.Equal([(ids[202], false)], (await dags.PendingChildrenAsync(ids[201])).Select(c => (c.Task.ExecutionId, c.OtherParents)));
        // A join's blocker, hinted, is read with the children (released is Queued); nothing hinted reads as null.
        Assert.Equal([ExecutionState.Queued], (await dags.PendingChildrenAsync(ids[200], hinted: released)).Select(c => c.Hinted));
        Assert.Equal([null], (await dags.PendingChildrenAsync(ids[200])).Select(c => c.Hinted));
    }

    /// <summary>
    /// A join's blocker is its latest parent not yet succeeded, found by reading down the child's edges in parent-id order
    /// and stopping at the first: a MAX over the parents visited all 10,000 of a big join's at each change of its blocker,
    /// 80 ms of server time each on PostgreSQL.
    /// </summary>
    [Fact]
    public async Task AJoinsBlocker_IsItsLatestUnsucceededParent_ReadDownItsEdgesInOrder_NotSorted()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var dags = (DagStore)storage.Get<IDagStore>();
        var runId = await dags.CreateRunAsync("fan-in", "{}", "{}", false, DateTimeOffset.UtcNow);
        var store = storage.Get<ExecutionStore>();
        NewExecution Parent(int i) => Noop with { DagRunId = runId, DagTaskName = $"p{i}" };
        var parents = await store.InsertAsync(
            [.. Enumerable.Range(0, 297).Select(i => (Parent(i), i % 2 == 0 ? ExecutionState.Succeeded : ExecutionState.Running)),
             .. Enumerable.Range(297, 3).Select(i => (Parent(i), ExecutionState.Succeeded))],
            DateTimeOffset.UtcNow, "test");
        var join = (await store.InsertAsync([(Noop with { DagRunId = runId, DagTaskName = "join" }, ExecutionState.Pending)], DateTimeOffset.UtcNow, "test"))[0];
        await dags.AddEdgesAsync(runId, parents.Select(parent => (parent, join)).ToList());

        Assert.Equal((parents[295], ExecutionState.Running), await dags.UnsucceededParentAsync(join));
        Assert.True(await dags.HasActiveTasksAsync(runId));
        // A run whose tasks sit at both edges of the in-flight range, waiting and succeeded, has nothing in flight.
        var settled = await dags.CreateRunAsync("settled", "{}", "{}", false, DateTimeOffset.UtcNow);
        await store.InsertAsync([(Noop with { DagRunId = settled, DagTaskName = "a" }, ExecutionState.Pending), (Noop with { DagRunId = settled, DagTaskName = "b" }, ExecutionState.Succeeded)],
            DateTimeOffset.UtcNow, "test");
        Assert.False(await dags.HasActiveTasksAsync(settled));

        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        var sql = dags.UnsucceededParentSql.Replace("@Child", "@p").Replace("@Succeeded", ((int)ExecutionState.Succeeded).ToString());
        var plan = await PlanAsync(connection, sql, join);
        Assert.Contains("IX_DagEdges_ChildExecutionId_ParentExecutionId", plan);
        // In the index's order: no sort (PostgreSQL's "Sort", SQLite's "TEMP B-TREE") that would read every parent first.
        Assert.True(!plan.Contains("Sort"), plan);
        Assert.DoesNotContain("TEMP B-TREE", plan);
    }

    /// <summary>
    /// The reads at each end of a DAG task keep to their indexes once statistics have counted a big join: PostgreSQL
    /// expected the join's thousands of edges (and the big run's tasks) to turn up early in a scan of the whole table, and
    /// read the edges and the executions from their start at every success — 5 ms a read, growing past 80 ms as earlier
    /// runs' rows piled up in front.
    /// </summary>
    [Fact]
    public async Task OnceStatisticsCountABigJoin_TheReadsAtEachSuccess_StillSearchTheirIndexes()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var dags = (DagStore)storage.Get<IDagStore>();
        var store = storage.Get<ExecutionStore>();
        var runId = await dags.CreateRunAsync("fan-in", "{}", "{}", false, DateTimeOffset.UtcNow);
        var parents = await store.InsertAsync(
            Enumerable.Range(0, 3_000).Select(i => (Noop with { DagRunId = runId, DagTaskName = $"p{i}" }, i < 2_000 ? ExecutionState.Succeeded : ExecutionState.Queued)).ToList(),
            DateTimeOffset.UtcNow, "test");
        var join = (await store.InsertAsync([(Noop with { DagRunId = runId, DagTaskName = "join" }, ExecutionState.Pending)], DateTimeOffset.UtcNow, "test"))[0];
        await dags.AddEdgesAsync(runId, parents.Select(parent => (parent, join)).ToList());

        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        var inFlightSql = dags.HasActiveTasksSql.Replace("@Run", "@p")
            .Replace("@First", ((int)ExecutionStates.InFlight.Min()).ToString()).Replace("@Last", ((int)ExecutionStates.InFlight.Max()).ToString());
        var inFlightBeforeAnalyse = await PlanAsync(connection, inFlightSql, runId);
        await AnalyseAsync(connection);
        var children = await PlanAsync(connection, DagStore.ChildrenSql.Replace("@Parent", "@p").Replace("@Hinted", "0"), parents[2_500], tablesAnalysed: true);
        var inFlight = await PlanAsync(connection, inFlightSql, runId, tablesAnalysed: true);
        var blocker = await PlanAsync(connection, dags.UnsucceededParentSql.Replace("@Child", "@p").Replace("@Succeeded", ((int)ExecutionState.Succeeded).ToString()), join, tablesAnalysed: true);

        Assert.False(ReadsATableWhole(children), children);
        Assert.True(children.Contains("IX_DagEdges_ChildExecutionId_ParentExecutionId"), children);
        // Before this ANALYZE and after: the first in-flight task in index order, not every one of them aggregated or sorted.
        foreach (var plan in new[] { inFlightBeforeAnalyse, inFlight })
        {
            Assert.False(ReadsATableWhole(plan) || plan.Contains("Aggregate") || plan.Contains("Sort") || plan.Contains("TEMP B-TREE"), plan);
            Assert.Contains("IX_Executions_DagRunId_State", plan);
        }
        // Read in parent order and stopped at the first unsucceeded (by the child's edges, or here, where this join holds every
        // edge, down the parent index), never all parents sorted.
        Assert.False(ReadsATableWhole(blocker) || blocker.Contains("Sort") || blocker.Contains("TEMP B-TREE"), blocker);
        Assert.Equal([(join, true)], (await dags.PendingChildrenAsync(parents[2_500])).Select(c => (c.Task.ExecutionId, c.OtherParents)));
        Assert.True(await dags.HasActiveTasksAsync(runId));
    }

    /// <summary>
    /// A live grid's total: a filter's count together with the highest id of any execution, then only the executions past
    /// that id — what the grid adds to its last count between full ones.
    /// </summary>
    [Fact]
    public async Task ATally_CountsTheFilter_AndAfterAnId_OnlyTheExecutionsAddedSince()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var queries = storage.Get<ExecutionQueries>();
        var report = Noop with { Name = "report.daily" };
        var reports = new ExecutionFilter { Name = "report.daily" };
        Assert.Equal(new ExecutionTally(0, 0), await queries.TallyAsync(reports));
        await store.InsertAsync(Enumerable.Repeat((report, ExecutionState.Queued), 5).ToList(), DateTimeOffset.UtcNow, "test");
        var others = await store.InsertAsync(Enumerable.Repeat((Noop, ExecutionState.Queued), 3).ToList(), DateTimeOffset.UtcNow, "test");

        var first = await queries.TallyAsync(reports);
        Assert.Equal(new ExecutionTally(5, others[^1]), first);

        await store.InsertAsync(Enumerable.Repeat((report, ExecutionState.Succeeded), 2).ToList(), DateTimeOffset.UtcNow, "test");
        var newest = await store.InsertAsync([(Noop, ExecutionState.Queued)], DateTimeOffset.UtcNow, "test");

        Assert.Equal(new ExecutionTally(2, newest[0]), await queries.TallyAsync(reports, first.MaxId));
        Assert.Equal(new ExecutionTally(0, newest[0]), await queries.TallyAsync(reports, newest[0]));
        Assert.Equal(7, (await queries.TallyAsync(reports)).Count);
        Assert.Equal(11, (await queries.TallyAsync(new ExecutionFilter())).Count);
    }

    [Fact]
    public async Task ARunsState_IsItsStoredState_AndAMissingRunHasNone()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var dags = storage.Get<IDagStore>();
        var runId = await dags.CreateRunAsync("state", "{}", "{}", false, DateTimeOffset.UtcNow);
        await dags.SetStateAsync(runId, [DagRunState.Queued], DagRunState.Running, DateTimeOffset.UtcNow);

        Assert.Equal(DagRunState.Running, await dags.RunStateAsync(runId));
        Assert.Null(await dags.RunStateAsync(runId + 1));
    }
}

public sealed class SqliteExecutionIndexTests : ExecutionIndexTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() =>
        Task.FromResult(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = "Data Source=taskdeck.db" });

    /// <summary>
    /// What a grid adds to its last count is a handful of new ids: SQLite's planner, which has no statistics, would walk
    /// every execution of the task through the (Name, State) index instead, as it does for a bare name.
    /// </summary>
    [Fact]
    public async Task CountingATasksExecutionsSinceAnId_WalksTheIds_NotEveryExecutionOfTheTask()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();

        var since = await PlanOfAsync(connection, ExecutionQueries.TallyQuery(db, new ExecutionFilter { Name = "demo.noop", Queue = "default" }, afterId: 7));
        var all = await PlanOfAsync(connection, ExecutionQueries.TallyQuery(db, new ExecutionFilter { Name = "demo.noop" }, afterId: null));

        Assert.Contains("INTEGER PRIMARY KEY (rowid>?)", since);
        Assert.DoesNotContain("IX_Executions_Name_State", since);
        Assert.DoesNotContain("IX_Executions_Queue_State", since);
        Assert.Contains("IX_Executions_Name_State", all);
    }

    /// <summary>
    /// A grid filtered by a task, newest first: its page's ids are sorted from the (Name, State) index alone, where the
    /// whole rows of every execution of the task were read from the table and sorted before.
    /// </summary>
    [Fact]
    public async Task APageOfATasksExecutions_SortsTheirIdsFromTheIndex_NotTheirRows()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();

        var plan = await PlanOfAsync(connection, ExecutionQueries.PageIdsQuery(db, new ExecutionFilter { Name = "demo.noop" }, ExecutionSort.Newest, false, 0, 26));

        Assert.Contains("COVERING INDEX IX_Executions_Name_State", plan);
    }

    /// <summary>
    /// SQLite uses a partial index only when the query names its predicate's terms as written: the workers page's query of
    /// what runs on a node must say "State IN (3, 4)" as the index does.
    /// </summary>
    [Fact]
    public async Task WhatRunsOnANode_IsReadFromTheIndexOfRunningWorkOnly()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();

        var plan = await PlanOfAsync(connection, Taskdeck.Data.Workers.WorkerQueries.RunningOn(db, "node-a", 20));

        Assert.Contains("IX_Executions_NodeId_State", plan);
    }

    [Theory]
    [InlineData(ExecutionState.Running)]
    [InlineData(ExecutionState.Cancelling)]
    public async Task ExternalWorkTasksInAState_AreReadFromTheirOwnIndex(ExecutionState state)
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();

        var plan = await PlanOfAsync(connection, Taskdeck.Data.WorkTasks.WorkTaskStore.ExternalIn(db, state).Select(e => e.Id));

        Assert.Contains("IX_Executions_External_State", plan);
    }

    /// <summary>EXPLAIN QUERY PLAN of a LINQ query, its parameters bound as <c>ToQueryString</c> lists them.</summary>
    private static async Task<string> PlanOfAsync(DbConnection connection, IQueryable query)
    {
        var lines = query.ToQueryString().Split('\n');
        await using var command = connection.CreateCommand();
        foreach (var line in lines.TakeWhile(l => l.StartsWith(".param set ", StringComparison.Ordinal)))
        {
            var parts = line.Split(' ', 4);
            var p = command.CreateParameter();
            p.ParameterName = parts[2];
            p.Value = parts[3].StartsWith('\'') ? parts[3].Trim('\'') : long.Parse(parts[3]);
            command.Parameters.Add(p);
        }
        command.CommandText = "EXPLAIN QUERY PLAN " + string.Join('\n', lines.SkipWhile(l => l.StartsWith(".param", StringComparison.Ordinal) || l.Length == 0));
        var plan = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) plan.Add(reader.GetString(3));
        return string.Join('\n', plan);
    }

    protected override async Task<string> PlanAsync(DbConnection connection, string sql, object parameter, bool tablesAnalysed = false)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql;
        var p = command.CreateParameter();
        p.ParameterName = "@p";
        p.Value = parameter;
        command.Parameters.Add(p);
        var plan = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) plan.Add(reader.GetString(3));
        return string.Join('\n', plan);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlExecutionIndexTests(PostgresServer postgres) : ExecutionIndexTests
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() => postgres.StorageSettingsAsync();

    protected override async Task<string> PlanAsync(DbConnection connection, string sql, object parameter, bool tablesAnalysed = false)
    {
        // A table this small would be read whole: without sequential scans the planner shows which index it can use (a
        // partial index it cannot prove applies is not among them; the primary key with a filter would be chosen instead).
        await using (var off = connection.CreateCommand())
        {
            off.CommandText = $"SET enable_seqscan = {(tablesAnalysed ? "on" : "off")}";
            await off.ExecuteNonQueryAsync();
        }
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN " + sql;
        var p = command.CreateParameter();
        p.ParameterName = "p";
        p.Value = parameter;
        command.Parameters.Add(p);
        var plan = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) plan.Add(reader.GetString(0));
        return string.Join('\n', plan);
    }

    /// <summary>
    /// Executions keep room on each page (fillfactor 50), so an update that changes no indexed column — the Hangfire job
    /// id the dispatcher stores for every execution, progress — is heap-only: no index entry written.
    /// </summary>
    /// <summary>
    /// At a busy fan-in the successes' children reads are gathered into one statement over many parents (PostgreSQL): it
    /// answers each parent as its own read would — children, whether they wait on others, the hinted state — and keeps
    /// to the parents' edges once statistics have counted a big join.
    /// </summary>
    [Fact]
    public async Task TheChildrenOfManyParents_ReadInOneStatement_AreEachParentsOwn_ThroughTheirEdges()
    {
        await using var storage = await StorageHost.StartAsync(await SettingsAsync());
        var dags = (DagStore)storage.Get<IDagStore>();
        var store = storage.Get<ExecutionStore>();
        var runId = await dags.CreateRunAsync("fan-in", "{}", "{}", false, DateTimeOffset.UtcNow);
        var parents = await store.InsertAsync(
            Enumerable.Range(0, 3_000).Select(i => (Noop with { DagRunId = runId, DagTaskName = $"p{i}" }, ExecutionState.Succeeded)).ToList(), DateTimeOffset.UtcNow, "test");
        var join = (await store.InsertAsync([(Noop with { DagRunId = runId, DagTaskName = "join" }, ExecutionState.Pending)], DateTimeOffset.UtcNow, "test"))[0];
        var only = await store.InsertAsync([(Noop with { DagRunId = runId, DagTaskName = "only" }, ExecutionState.Pending), (Noop with { DagRunId = runId, DagTaskName = "ran" }, ExecutionState.Queued)],
            DateTimeOffset.UtcNow, "test");
        await dags.AddEdgesAsync(runId, [.. parents.Select(parent => (parent, join)), (parents[0], only[0]), (parents[0], only[1])]);

        await using var db = await storage.Get<IDbContextFactory<TaskdeckDbContext>>().CreateDbContextAsync();
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await connection.OpenAsync();
        await AnalyseAsync(connection);
        // The plan a prepared statement settles on after five runs: generic, not knowing how many parents come.
        var prepare = DagStore.ChildrenOfManySql.Replace("@Parents", "$1").Replace("@Hinted", "$2");
        await using (var prepared = new NpgsqlCommand($"SET plan_cache_mode = force_generic_plan; PREPARE children(bigint[], bigint[]) AS {prepare}", connection))
            await prepared.ExecuteNonQueryAsync();
        await using var explain = new NpgsqlCommand(
            $"EXPLAIN EXECUTE children('{{{parents[0]},{parents[2_500]},{parents[7]}}}', '{{0,{parents[1]},0}}')", connection);
        var plan = string.Join('\n', await ReadAllAsync(explain));
        Assert.False(plan.Contains("Seq Scan on \"DagEdges\"") || plan.Contains("Seq Scan on \"Executions\"") || plan.Contains("Hash"), plan);
        Assert.Contains("IX_DagEdges_ParentExecutionId", plan);

        // Asked together (the first alone reads; those asked while it runs are gathered), answered as each alone.
        var asked = new (long Parent, long Hinted)[] { (parents[0], 0), (parents[2_500], parents[1]), (only[1], 0), (parents[7], join) };
        var alone = new List<string>();
        foreach (var (parent, hinted) in asked) alone.Add(Describe(await dags.PendingChildrenAsync(parent, hinted)));
        var together = await Task.WhenAll(Enumerable.Range(0, 20).SelectMany(_ => asked).Select(async a => Describe(await dags.PendingChildrenAsync(a.Parent, a.Hinted))));
        Assert.Equal(Enumerable.Range(0, 20).SelectMany(_ => alone), together);
        Assert.Equal($"{join}:True:;{only[0]}:False:", alone[0]);
        Assert.Equal($"{join}:True:Succeeded", alone[1]);
        Assert.Equal("", alone[2]);
        Assert.Equal($"{join}:True:Pending", alone[3]);
        Assert.True(dags.ChildrenReadTogether > 0);

        static string Describe(IReadOnlyList<DagChild> children) =>
            string.Join(';', children.OrderBy(c => c.Task.ExecutionId).Select(c => $"{c.Task.ExecutionId}:{c.OtherParents}:{c.Hinted}"));
    }

    private static async Task<List<string>> ReadAllAsync(NpgsqlCommand command)
    {
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) lines.Add(reader.GetString(0));
        return lines;
    }

    [Fact]
    public async Task SettingTheHangfireJobId_IsAHeapOnlyUpdate()
    {
        var settings = await SettingsAsync();
        await using var storage = await StorageHost.StartAsync(settings);
        var store = storage.Get<ExecutionStore>();
        await using var connection = new Npgsql.NpgsqlConnection(settings["ConnectionStrings:Taskdeck"]);
        await connection.OpenAsync();
        Assert.Contains("fillfactor=50", await ScalarAsync<string>(connection, "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'Executions'"));

        var ids = await store.InsertAsync(Enumerable.Repeat((Noop, ExecutionState.Queued), 200).ToList(), DateTimeOffset.UtcNow, "test");
        // As the dispatcher stores them: a submission's job ids (25 executions a job) in one call, one transaction per
        // writer, so every record of a page takes its new version at once (at fillfactor 70: 90 of 200 were heap-only).
        await store.SetHangfireJobsAsync(ids.Select(id => (id, $"job-{id / 25}")).ToList());

        var (updated, heapOnly) = await UpdatesOfAsync(connection, "Executions", atLeast: ids.Count);
        Assert.Equal(ids.Count, updated);
        Assert.Equal(ids.Count, heapOnly);
    }

    /// <summary>
    /// An attempt is opened at a claim and closed at the end: nothing reads attempts by their end, so the close changes no
    /// indexed column, and the table leaves room on each page for it — no index entry is written for it.
    /// </summary>
    [Fact]
    public async Task ClosingAnAttempt_IsAHeapOnlyUpdate()
    {
        var settings = await SettingsAsync();
        await using var storage = await StorageHost.StartAsync(settings);
        var store = storage.Get<ExecutionStore>();
        await using var connection = new Npgsql.NpgsqlConnection(settings["ConnectionStrings:Taskdeck"]);
        await connection.OpenAsync();

        var ids = await store.InsertAsync(Enumerable.Repeat((Noop, ExecutionState.Queued), 100).ToList(), DateTimeOffset.UtcNow, "test");
        foreach (var id in ids)
        {
            Assert.True((await store.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = "a" }, DateTimeOffset.UtcNow)).Applied);
            Assert.True((await store.ApplyAsync(new TransitionCommand(id, Transition.Succeed) { NodeId = "a", ExpectedAttempt = 1 }, DateTimeOffset.UtcNow)).Applied);
        }

        var (updated, heapOnly) = await UpdatesOfAsync(connection, "Attempts", atLeast: ids.Count);
        Assert.Equal(ids.Count, updated);
        Assert.Equal(ids.Count, heapOnly);
    }

    /// <summary>A table's updates so far, and how many of them were heap-only, once the server counted at least some.</summary>
    private static async Task<(long Updated, long HeapOnly)> UpdatesOfAsync(Npgsql.NpgsqlConnection connection, string table, long atLeast)
    {
        // The server's statistics reach other sessions within a few seconds of the writers' transactions.
        var deadline = DateTime.UtcNow.AddMinutes(2);
        long updated = 0, heapOnly = 0;
        while (DateTime.UtcNow < deadline)
        {
            await ScalarAsync<object>(connection, "SELECT pg_stat_clear_snapshot()");
            updated = await ScalarAsync<long>(connection, $"SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = '{table}'");
            heapOnly = await ScalarAsync<long>(connection, $"SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = '{table}'");
            if (updated >= atLeast) break;
            await Task.Delay(200);
        }
        return (updated, heapOnly);
    }

    private static async Task<T> ScalarAsync<T>(Npgsql.NpgsqlConnection connection, string sql)
    {
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}

/// <summary>
/// No SQL Server runs here, so its plans cannot be read: what can be checked is that its partial indexes are partial —
/// the statements its migrations create them with, and the model the next migration is generated from.
/// </summary>
public sealed class SqlServerExecutionIndexTests
{
    [Theory]
    [InlineData("IX_Executions_DagRunId_DagTaskName", "[DagRunId], [DagTaskName]", "[DagRunId] IS NOT NULL")]
    [InlineData("IX_Executions_DagRunId_State", "[DagRunId], [State]", "[DagRunId] IS NOT NULL")]
    [InlineData("IX_Executions_DagRunId_Id", "[DagRunId], [Id]", "[DagRunId] IS NOT NULL")]
    [InlineData("IX_Executions_ScheduleName_State", "[ScheduleName], [State]", "[ScheduleName] IS NOT NULL")]
    public void ThePartialIndexes_AreCreatedWithTheirFilter(string index, string columns, string filter)
    {
        using var db = new SqlServerTaskdeckDbContext(new DbContextOptionsBuilder<SqlServerTaskdeckDbContext>()
            .UseSqlServer("Server=nowhere;Database=taskdeck;TrustServerCertificate=true").Options);
        var script = db.GetService<IMigrator>().GenerateScript();
        // The last statement that creates it is the index a migrated database has (an earlier migration made it whole).
        var created = Regex.Matches(script, $@"CREATE INDEX \[{index}\] ON \[Executions\] \(([^)]*)\)([^;]*);").LastOrDefault();
        Assert.True(created is not null, $"no CREATE INDEX [{index}] in the SQL Server migrations");
        Assert.Equal(columns, created.Groups[1].Value);
        Assert.Equal($" WHERE {filter}", created.Groups[2].Value);

        var modelled = db.GetService<IDesignTimeModel>().Model.FindEntityType(typeof(Execution))!.GetIndexes().Single(i => i.GetDatabaseName() == index);
        Assert.Equal(filter, modelled.GetFilter());
    }
}
