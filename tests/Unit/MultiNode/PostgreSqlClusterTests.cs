using Npgsql;
using Taskdeck.Core.Executions;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.MultiNode;

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "PostgreSQL server";
}

/// <summary>
/// Two real Console processes on one real PostgreSQL database (Hangfire.PostgreSql distributes the jobs; Core's
/// compare-and-set claims and leases keep it correct).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlClusterTests(PostgresServer postgres)
{
    [Fact]
    public async Task TwoNodes_ShareTheWork_AndEveryExecutionRunsExactlyOnce()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var a = await ConsoleProcess.StartAsync(ClusterProbe.NodeSettings(connection, 60));
        await using var b = await ConsoleProcess.StartAsync(ClusterProbe.NodeSettings(connection, 60));

        // More work at once than one node's 4 workers hold, and long enough that the other node's poll (every 200 ms)
        // finds queued work while the first is full: both nodes run some, whatever the machine's load.
        var ids = new List<long>();
        for (var i = 0; i < 24; i++)
            ids.Add(await (i % 2 == 0 ? a : b).SubmitAsync(new { task = "demo.sleep", args = new { seconds = 1.5 } }));

        await WaitUntilAsync(connection, $"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = {(int)ExecutionState.Succeeded}", 24, TimeSpan.FromSeconds(120));

        Assert.Equal(24L, await ScalarAsync(connection, "SELECT COUNT(*) FROM \"Attempts\""));
        Assert.Equal(0L, await ScalarAsync(connection, "SELECT COUNT(*) FROM \"Executions\" WHERE \"AttemptCount\" <> 1"));
        var nodesThatRan = await ScalarAsync(connection, "SELECT COUNT(DISTINCT \"NodeId\") FROM \"Attempts\"");
        Assert.Equal(2L, nodesThatRan);
    }

    [Fact]
    public async Task ANodeThatCrashes_HasItsRunningWorkMarkedLost_AndRetriedOnTheSurvivor()
    {
        var connection = await postgres.CreateDatabaseAsync();
        await using var survivor = await ConsoleProcess.StartAsync(ClusterProbe.NodeSettings(connection, 10));
        await using var victim = await ConsoleProcess.StartAsync(ClusterProbe.NodeSettings(connection, 10));

        var ids = new List<long>();
        for (var i = 0; i < 8; i++)
            ids.Add(await victim.SubmitAsync(new { task = "demo.sleep", args = new { seconds = 3 }, maxRetries = 1 }));

        var victimNode = ClusterProbe.NodeOf(victim);
        await WaitUntilAsync(connection,
            $"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = {(int)ExecutionState.Running} AND \"NodeId\" LIKE '{victimNode}'", 1, TimeSpan.FromSeconds(60), atLeast: true);
        var onVictim = await ScalarAsync(connection, $"SELECT COUNT(*) FROM \"Attempts\" WHERE \"NodeId\" LIKE '{victimNode}' AND \"FinishedAt\" IS NULL");
        victim.Crash();

        await WaitUntilAsync(connection, $"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = {(int)ExecutionState.Succeeded}", 8, TimeSpan.FromSeconds(90));

        // Each crashed attempt is recorded as Lost; each execution succeeded exactly once.
        Assert.True(onVictim >= 1);
        Assert.True(await ScalarAsync(connection, $"SELECT COUNT(*) FROM \"Attempts\" WHERE \"Outcome\" = {(int)ExecutionState.Lost} AND \"NodeId\" LIKE '{victimNode}'") >= onVictim);
        Assert.Equal(0L, await ScalarAsync(connection,
            $"SELECT COUNT(*) FROM (SELECT \"ExecutionId\" FROM \"Attempts\" WHERE \"Outcome\" = {(int)ExecutionState.Succeeded} GROUP BY \"ExecutionId\" HAVING COUNT(*) <> 1) x"));
        Assert.Equal(8L, await ScalarAsync(connection, $"SELECT COUNT(DISTINCT \"ExecutionId\") FROM \"Attempts\" WHERE \"Outcome\" = {(int)ExecutionState.Succeeded}"));
    }

    // The worker whose task's success makes the next link ready runs it next: the link's release and its claim are written
    // together, one commit (one PostgreSQL transaction id on both history rows), the release first.
    [Fact]
    public async Task AChainsNextLink_IsReleasedAndClaimedInOneCommit_ByTheWorkerThatRanItsParent()
    {
        var connection = await postgres.CreateDatabaseAsync();
        // No reconciler pass meanwhile: it releases every child whose parents have succeeded, the usual way (its own
        // commit), and the cluster settings run one every 2 s — on a loaded machine one fell between a link's parent's
        // commit and the worker's own release of the link, and that link was claimed by a job of its own.
        var settings = ClusterProbe.NodeSettings(connection, 60);
        settings["Taskdeck:Leases:ReconcileSeconds"] = "3600";
        await using var node = await ConsoleProcess.StartAsync(settings);
        var submitted = await node.Http.PostAsync("/v1/dagrun", new StringContent("""
            { "tag": "one-commit-links", "tasks": {
                "a": { "job": { "task": "demo.noop" }, "children": ["b"] },
                "b": { "job": { "task": "demo.noop" }, "children": ["c"] },
                "c": { "job": { "task": "demo.noop" }, "children": ["d"] },
                "d": { "job": { "task": "demo.noop" } } } }
            """, System.Text.Encoding.UTF8, "application/json"));
        Assert.True(submitted.IsSuccessStatusCode, await submitted.Content.ReadAsStringAsync());

        await WaitUntilAsync(connection, $"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = {(int)ExecutionState.Succeeded}", 4, TimeSpan.FromSeconds(60));

        const string links = """
            SELECT COUNT(*) FROM "StateChanges" r JOIN "StateChanges" c ON c."ExecutionId" = r."ExecutionId" AND c."Transition" = 'Claim'
            WHERE r."Transition" = 'Release' AND r.xmin = c.xmin AND r."Id" < c."Id"
            """;
        Assert.Equal(3L, await ScalarAsync(connection, "SELECT COUNT(*) FROM \"StateChanges\" WHERE \"Transition\" = 'Release'"));
        var history = await TextAsync(connection, """SELECT string_agg(concat_ws(' ', "Id", "ExecutionId", "Transition", xmin::text, "NodeId"), E'\n' ORDER BY "Id") FROM "StateChanges" """);
        Assert.True(3L == await ScalarAsync(connection, links), history);
        Assert.Equal(4L, await ScalarAsync(connection, "SELECT COUNT(*) FROM \"Attempts\""));
    }

    private static async Task<string> TextAsync(string connection, string sql) => Convert.ToString(await QueryAsync(connection, sql)) ?? "";

    private static async Task<long> ScalarAsync(string connection, string sql) => Convert.ToInt64(await QueryAsync(connection, sql));

    private static async Task<object?> QueryAsync(string connection, string sql)
    {
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync();
        await using var command = c.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    private static async Task WaitUntilAsync(string connection, string countSql, long expected, TimeSpan timeout, bool atLeast = false)
    {
        var deadline = DateTime.UtcNow + timeout;
        long last = -1;
        while (DateTime.UtcNow < deadline)
        {
            last = await ScalarAsync(connection, countSql);
            if (atLeast ? last >= expected : last == expected) return;
            await Task.Delay(200);
        }
        Assert.Fail($"Timed out waiting for {countSql} to reach {expected}; last {last}");
    }
}
