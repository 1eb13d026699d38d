using System.Diagnostics;
using Npgsql;
using Taskdeck.Core.Executions;
using Taskdeck.Unit.Infrastructure;
using Xunit.Abstractions;

namespace Taskdeck.Unit.MultiNode;

/// <summary>
/// Two real Console processes on one real PostgreSQL database, one of them killed with SIGKILL twenty times while
/// 5,000 tasks run (each time started again, as a service manager would): every execution must end Succeeded with
/// exactly one succeeded attempt and one Succeed in its history, and no attempt may be left open.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlChaosTests(PostgresServer postgres, ITestOutputHelper output)
{
    private const int Kills = 20;
    private const int Tasks = 5000;

    [Fact]
    public async Task OneOfTwoNodesKilledTwentyTimes_While5000TasksRun_EveryExecutionSucceedsExactlyOnce()
    {
        var connection = await postgres.CreateDatabaseAsync();
        var db = new ClusterProbe(connection);
        var clock = Stopwatch.StartNew();
        var settings = ClusterProbe.NodeSettings(connection);
        await using var survivor = await ConsoleProcess.StartAsync(settings);
        var perRound = Tasks / Kills;
        long caughtRunning = 0;
        var submissions = new List<Task>();

        for (var kill = 1; kill <= Kills; kill++)
        {
            var victim = await ConsoleProcess.StartAsync(settings);
            var ready = clock.Elapsed;
            try
            {
                // Each round's work is submitted (to the survivor, whose answers the kills cannot cut) once the victim is up,
                // and the kill lands while the victim holds work it claimed from the shared queue: a Lost attempt to
                // recover, besides the jobs it had fetched and the batches it had not finished.
                submissions.Add(ClusterProbe.SubmitAsync([survivor], ClusterProbe.Mix(perRound, maxRetries: Kills + 5, sleep: 0.5)));
                await db.WaitAsync($"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = {(int)ExecutionState.Running} AND \"NodeId\" LIKE '{ClusterProbe.NodeOf(victim)}'",
                    n => n >= 1, TimeSpan.FromSeconds(90), "the restarted node to run some of the work",
                    async () => await db.DescribeAsync() + "\n" + await db.AttemptsByNodeAsync() + "\nvictim:\n" + victim.Output, poll: TimeSpan.FromMilliseconds(50));
                var running = await db.ScalarAsync($"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = {(int)ExecutionState.Running} AND \"NodeId\" LIKE '{ClusterProbe.NodeOf(victim)}'");
                victim.Crash();
                caughtRunning += running;
                output.WriteLine($"{clock.Elapsed.TotalSeconds,5:0.0} s kill {kill} (victim ready at {ready.TotalSeconds:0.0} s): {running} running on the victim, " +
                                 $"{await db.ScalarAsync($"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = {(int)ExecutionState.Succeeded}")} succeeded so far");
            }
            finally
            {
                await victim.DisposeAsync();
            }
        }

        // Back to two nodes, as after every other kill.
        await using var last = await ConsoleProcess.StartAsync(settings);
        await Task.WhenAll(submissions);
        await db.WaitAsync($"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = {(int)ExecutionState.Succeeded}", n => n == Tasks,
            TimeSpan.FromMinutes(5), "every execution to succeed", () => db.DescribeAsync());
        output.WriteLine($"{clock.Elapsed.TotalSeconds,5:0.0} s all {Tasks} succeeded; {await db.ScalarAsync($"SELECT COUNT(*) FROM \"Attempts\" WHERE \"Outcome\" = {(int)ExecutionState.Lost}")} attempts lost in the kills and retried");

        Assert.Equal(Tasks, await db.ScalarAsync("SELECT COUNT(*) FROM \"Executions\""));
        await db.AssertEachSucceededExactlyOnceAsync();
        // The kills caught claimed work: the recovery path (attempt closed as lost, retried elsewhere) was exercised, not only the queue.
        Assert.True(caughtRunning >= 1, "nothing was running on the victim at its kills");
        Assert.True(await db.ScalarAsync($"SELECT COUNT(*) FROM \"Attempts\" WHERE \"Outcome\" = {(int)ExecutionState.Lost}") >= 1);
        Assert.False(survivor.HasExited, "the survivor exited:\n" + survivor.Output);
    }
}

