using System.Diagnostics;
using Npgsql;
using Taskdeck.Core.Executions;
using Taskdeck.Unit.Infrastructure;
using Xunit.Abstractions;

namespace Taskdeck.Unit.MultiNode;

/// <summary>
/// <c>pg_ctl restart -m fast</c> of the PostgreSQL server while two nodes run work: every connection they hold breaks at
/// once. Both must carry on in the same process (no restart of their own): what was in flight ends Succeeded exactly
/// once, and each node takes new submissions and runs work after the restart. Its own server, so the restart disturbs
/// no other test.
/// </summary>
public sealed class PostgreSqlRestartTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int During = 3000;
    private const int After = 200;
    private readonly PostgresServer _postgres = new();

    public Task InitializeAsync() => _postgres.InitializeAsync();
    public Task DisposeAsync() => _postgres.DisposeAsync();

    [Fact]
    public async Task PostgreSqlRestartedFast_MidRun_BothNodesCarryOnInTheirOwnProcess_NothingLostNorRunTwice()
    {
        var connection = await _postgres.CreateDatabaseAsync();
        var db = new ClusterProbe(connection);
        var clock = Stopwatch.StartNew();
        var settings = ClusterProbe.NodeSettings(connection);
        // One after the other: the first applies the migrations to the empty database.
        await using var a = await ConsoleProcess.StartAsync(settings);
        await using var b = await ConsoleProcess.StartAsync(settings);
        var (pidA, pidB) = (a.ProcessId, b.ProcessId);
        output.WriteLine($"{clock.Elapsed.TotalSeconds,5:0.0} s both nodes ready");

        // Submissions go on through the restart: what a node acknowledged must run; what it refused while the server was
        // down is the client's to send again.
        var accepted = new System.Collections.Concurrent.ConcurrentBag<long>();
        var refused = new System.Collections.Concurrent.ConcurrentBag<string>();
        // One in ten sleeps a second: work is still in flight when the server goes down, however fast the nodes keep up with
        // a submitter slowed by a loaded machine (with 0.2 s sleeps, nothing was queued or running at the restart in one run).
        var submitting = ClusterProbe.SubmitAsync([a, b], ClusterProbe.Mix(During, maxRetries: 5, sleep: 1.0), accepted, refused);
        // Mid-run: both nodes at work, work acknowledged and not yet run.
        await db.WaitAsync($"SELECT COUNT(DISTINCT \"NodeId\") FROM \"Attempts\" WHERE \"Outcome\" = {(int)ExecutionState.Succeeded}", n => n == 2,
            TimeSpan.FromSeconds(120), "both nodes to have run work");
        await db.WaitAsync($"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = {(int)ExecutionState.Succeeded}", n => n >= 300,
            TimeSpan.FromSeconds(120), "300 executions to succeed");
        long waiting = 0;
        await db.WaitAsync($"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" IN ({(int)ExecutionState.Queued}, {(int)ExecutionState.Running})",
            n => (waiting = n) > 0, TimeSpan.FromSeconds(120), "work queued or running to restart the server under");
        output.WriteLine($"{clock.Elapsed.TotalSeconds,5:0.0} s restarting PostgreSQL: {accepted.Count} accepted, {waiting} queued or running");

        await _postgres.RestartFastAsync();
        var restartedAt = DateTimeOffset.UtcNow;
        output.WriteLine($"{clock.Elapsed.TotalSeconds,5:0.0} s PostgreSQL restarted");
        var submittingDuring = !submitting.IsCompleted;
        await submitting;
        output.WriteLine($"{clock.Elapsed.TotalSeconds,5:0.0} s submissions done: {accepted.Count} accepted, {refused.Count} refused{(refused.IsEmpty ? "" : ": " + refused.First())}");

        // Both nodes take new work once the server is back, through their own API and their own workers.
        foreach (var node in new[] { a, b })
            await ClusterProbe.UntilAsync(async () => (await node.Http.GetAsync("/api/readyz")).IsSuccessStatusCode, TimeSpan.FromSeconds(60),
                $"node {node.ProcessId} to be ready again:\n{node.Output}");
        var afterRefused = new System.Collections.Concurrent.ConcurrentBag<string>();
        await ClusterProbe.SubmitAsync([a, b], ClusterProbe.Mix(After, maxRetries: 5), accepted, afterRefused);
        Assert.True(afterRefused.IsEmpty, $"{afterRefused.Count} submissions refused once both nodes were ready again: {afterRefused.FirstOrDefault()}");

        foreach (var node in new[] { a, b })
            output.WriteLine($"node {node.ProcessId}:\n" + string.Join("\n", node.Output.Split('\n').Take(80)));
        var ids = accepted.ToArray();
        Assert.Equal(ids.Length, ids.Distinct().Count());
        var total = ids.Length;
        await db.WaitAsync($"SELECT COUNT(*) FROM \"Executions\" WHERE \"Id\" = ANY(@ids) AND \"State\" = {(int)ExecutionState.Succeeded}", n => n == total,
            TimeSpan.FromMinutes(4), "every accepted execution to succeed", () => db.DescribeAsync(), [("ids", ids)]);
        output.WriteLine($"{clock.Elapsed.TotalSeconds,5:0.0} s all {total} accepted executions succeeded");

        output.WriteLine(submittingDuring ? "submissions were still going when the server went down" : "the submissions had ended before the restart");
        Assert.False(a.HasExited, "node A exited:\n" + a.Output);
        Assert.False(b.HasExited, "node B exited:\n" + b.Output);
        Assert.Equal((pidA, pidB), (a.ProcessId, b.ProcessId));
        foreach (var node in new[] { a, b })
        {
            var after = await db.ScalarAsync($"SELECT COUNT(*) FROM \"Attempts\" WHERE \"NodeId\" LIKE '{ClusterProbe.NodeOf(node)}' AND \"StartedAt\" > @at " +
                                             $"AND \"Outcome\" = {(int)ExecutionState.Succeeded}", ("at", Taskdeck.Data.Storage.TaskdeckDbContext.ToMicros(restartedAt)));
            Assert.True(after > 0, $"node {node.ProcessId} ran nothing after the restart:\n{node.Output}");
        }
        // Every acknowledged id succeeded (above); whatever else a refused submission left behind succeeded as well.
        await db.WaitAsync($"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" <> {(int)ExecutionState.Succeeded}", n => n == 0,
            TimeSpan.FromMinutes(1), "every execution to succeed", () => db.DescribeAsync());
        await db.AssertEachSucceededExactlyOnceAsync();
    }
}

/// <summary>What the multi-node tests share (the PostgreSQL restart test, TwoNodeTests, the cluster, chaos and schedule tests): the nodes' settings, the work they submit, waiting on a condition, and reading the database.</summary>
internal sealed class ClusterProbe(string connection)
{
    /// <param name="connection">The nodes' database.</param>
    /// <param name="expirySeconds">
    /// 10 s by default: short enough that a killed node's work is recovered quickly, long enough that a heartbeat delayed
    /// on a loaded machine does not declare a live node dead (a 4 s lease did, and its work ran twice).
    /// </param>
    public static Dictionary<string, string> NodeSettings(string connection, int expirySeconds = 10) => new()
    {
        ["Taskdeck:Storage:Provider"] = "PostgreSql",
        ["ConnectionStrings:Taskdeck"] = connection,
        ["Taskdeck:Node:WorkerCount"] = "4",
        ["Taskdeck:Leases:HeartbeatSeconds"] = "1",
        ["Taskdeck:Leases:ExpirySeconds"] = expirySeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Taskdeck:Leases:ReconcileSeconds"] = "2",
    };

    /// <summary>The LIKE pattern of a node's id (host:pid:suffix).</summary>
    public static string NodeOf(ConsoleProcess node) => $"%:{node.ProcessId}:%";

    /// <summary>Mostly no-ops; one in ten sleeps, so a node holds claimed work at most moments it is busy.</summary>
    public static IReadOnlyList<object> Mix(int count, int maxRetries, double sleep = 0.2) => Enumerable.Range(0, count)
        .Select(i => i % 10 == 0
            ? (object)new { task = "demo.sleep", args = new { seconds = sleep }, maxRetries }
            : new { task = "demo.noop", maxRetries })
        .ToList();

    /// <summary>Submits over HTTP, spread over the nodes, 8 at a time; every one must be accepted.</summary>
    public static Task SubmitAsync(IReadOnlyList<ConsoleProcess> nodes, IReadOnlyList<object> bodies) =>
        Parallel.ForEachAsync(Enumerable.Range(0, bodies.Count), new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (i, _) => await nodes[i % nodes.Count].SubmitAsync(bodies[i]));

    /// <summary>Submits over HTTP, spread over the nodes, 8 at a time: the ids accepted, and why the others were refused.</summary>
    public static Task SubmitAsync(IReadOnlyList<ConsoleProcess> nodes, IReadOnlyList<object> bodies,
        System.Collections.Concurrent.ConcurrentBag<long> accepted, System.Collections.Concurrent.ConcurrentBag<string> refused) =>
        Parallel.ForEachAsync(Enumerable.Range(0, bodies.Count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            try { accepted.Add(await nodes[i % nodes.Count].SubmitAsync(bodies[i])); }
            catch (Exception e) when (e is InvalidOperationException or HttpRequestException or TaskCanceledException) { refused.Add(e.Message); }
        });

    /// <param name="pause">Between two looks: 200 ms unless a test measures how soon the condition holds.</param>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? pause = null)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            try { if (await condition()) return; }
            catch (HttpRequestException) { }
            await Task.Delay(pause ?? TimeSpan.FromMilliseconds(200));
        }
        Assert.Fail($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}");
    }

    public async Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync();
        await using var command = c.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    public async Task WaitAsync(string countSql, Func<long, bool> done, TimeSpan timeout, string what, Func<Task<string>>? describe = null,
        (string Name, object Value)[]? parameters = null, TimeSpan? poll = null)
    {
        var deadline = Stopwatch.StartNew();
        long last = -1;
        while (deadline.Elapsed < timeout)
        {
            try
            {
                last = await ScalarAsync(countSql, parameters ?? []);
                if (done(last)) return;
            }
            catch (NpgsqlException) { } // the test's own connection across a server restart
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(200));
        }
        Assert.Fail($"Timed out after {timeout.TotalSeconds:0} s waiting for {what} ({countSql}: {last}){(describe is null ? "" : "\n" + await describe())}");
    }

    /// <summary>Executions by state, for a failure message.</summary>
    public async Task<string> DescribeAsync()
    {
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync();
        await using var command = c.CreateCommand();
        command.CommandText = "SELECT \"State\", COUNT(*), MIN(\"Id\") FROM \"Executions\" GROUP BY \"State\" ORDER BY 1";
        await using var reader = await command.ExecuteReaderAsync();
        var lines = new List<string>();
        while (await reader.ReadAsync()) lines.Add($"{(ExecutionState)reader.GetInt32(0)}: {reader.GetInt64(1)} (first id {reader.GetInt64(2)})");
        await reader.CloseAsync();
        command.CommandText = "SELECT \"Id\", \"State\", \"AttemptCount\", \"NodeId\", \"HangfireJobId\", \"UpdatedAt\" FROM \"Executions\" " +
                              $"WHERE \"State\" <> {(int)ExecutionState.Succeeded} ORDER BY \"Id\" LIMIT 10";
        var jobs = new List<string>();
        await using (var rows = await command.ExecuteReaderAsync())
            while (await rows.ReadAsync())
            {
                if (!rows.IsDBNull(4)) jobs.Add(rows.GetString(4));
                lines.Add($"\n  #{rows.GetInt64(0)} {(ExecutionState)rows.GetInt32(1)} attempt {rows.GetInt32(2)} on {(rows.IsDBNull(3) ? "-" : rows.GetString(3))} " +
                          $"job {(rows.IsDBNull(4) ? "-" : rows.GetString(4))} updated {Taskdeck.Data.Storage.TaskdeckDbContext.FromMicros(rows.GetInt64(5)):HH:mm:ss.fff}");
            }
        // Where Hangfire has their jobs: the job's state (and the server that holds it) and its queue row (fetched when?).
        command.CommandText = "SELECT j.id, j.statename, s.data, q.fetchedat, q.queue, now() FROM hangfire.job j LEFT JOIN hangfire.state s ON s.id = j.stateid " +
                              "LEFT JOIN hangfire.jobqueue q ON q.jobid = j.id WHERE j.id = ANY(@jobs)";
        command.Parameters.AddWithValue("jobs", jobs.Select(long.Parse).ToArray());
        await using (var rows = await command.ExecuteReaderAsync())
            while (await rows.ReadAsync())
                lines.Add($"\n  job {rows.GetInt64(0)}: {(rows.IsDBNull(1) ? "-" : rows.GetString(1))} {(rows.IsDBNull(2) ? "" : rows.GetValue(2))} " +
                          $"queue row {(rows.IsDBNull(4) ? "none" : rows.GetString(4) + " fetched " + (rows.IsDBNull(3) ? "never" : rows.GetDateTime(3).ToString("HH:mm:ss.fff")))} (now {rows.GetDateTime(5):HH:mm:ss})");
        command.CommandText = "SELECT id, lastheartbeat FROM hangfire.server";
        command.Parameters.Clear();
        await using (var rows = await command.ExecuteReaderAsync())
            while (await rows.ReadAsync()) lines.Add($"\n  server {rows.GetString(0)} beat {rows.GetDateTime(1):HH:mm:ss}");
        return string.Join("; ", lines);
    }

    /// <summary>Attempts per node and outcome, for a failure message.</summary>
    public async Task<string> AttemptsByNodeAsync()
    {
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync();
        await using var command = c.CreateCommand();
        command.CommandText = "SELECT \"NodeId\", \"Outcome\", COUNT(*) FROM \"Attempts\" GROUP BY 1, 2 ORDER BY 1, 2";
        await using var reader = await command.ExecuteReaderAsync();
        var lines = new List<string>();
        while (await reader.ReadAsync()) lines.Add($"{reader.GetString(0)} {(ExecutionState)reader.GetInt32(1)}: {reader.GetInt64(2)}");
        return "attempts: " + string.Join("; ", lines);
    }

    /// <summary>Exactly one succeeded attempt and one Succeed in its history for every execution; no attempt left open.</summary>
    public async Task AssertEachSucceededExactlyOnceAsync()
    {
        Assert.Equal(0L, await ScalarAsync($"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" <> {(int)ExecutionState.Succeeded}"));
        Assert.Equal(0L, await ScalarAsync(
            $"SELECT COUNT(*) FROM \"Executions\" e WHERE (SELECT COUNT(*) FROM \"Attempts\" a WHERE a.\"ExecutionId\" = e.\"Id\" AND a.\"Outcome\" = {(int)ExecutionState.Succeeded}) <> 1"));
        Assert.Equal(0L, await ScalarAsync(
            "SELECT COUNT(*) FROM \"Executions\" e WHERE (SELECT COUNT(*) FROM \"StateChanges\" h WHERE h.\"ExecutionId\" = e.\"Id\" AND h.\"Transition\" = 'Succeed') <> 1"));
        Assert.Equal(0L, await ScalarAsync("SELECT COUNT(*) FROM \"Attempts\" WHERE \"FinishedAt\" IS NULL"));
    }
}
