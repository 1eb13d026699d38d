using System.Globalization;
using System.Net.Http.Json;
using Npgsql;
using Taskdeck.Core.Schedules;
using Taskdeck.Unit.Infrastructure;
using Xunit.Abstractions;

namespace Taskdeck.Unit.MultiNode;

/// <summary>
/// Schedules on two real Console processes sharing one real PostgreSQL database: every slot is a firing row unique on
/// (schedule, slot), inserted in the transaction of the run it starts, so however the two loops race — and when one is
/// killed with SIGKILL mid-firing and started again — each slot starts exactly one run.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ScheduleClusterTests(PostgresServer postgres, ITestOutputHelper output)
{
    [Fact]
    public async Task EverySecondFor90Seconds_OnTwoNodes_OneKilledAndRestartedMidway_Starts90Runs_OnePerSlot()
    {
        // Long enough for the killed node's new process to come up inside the window: a start took 56 s once, with two
        // test suites and their PostgreSQL nodes sharing the 2 cores (it was 60 slots then, and the window had closed).
        const int Slots = 90;
        var connection = await postgres.CreateDatabaseAsync();
        var settings = ClusterProbe.NodeSettings(connection);
        // One after the other: the first applies the migrations to the empty database.
        await using var a = await ConsoleProcess.StartAsync(settings);
        var b = await ConsoleProcess.StartAsync(settings);
        ConsoleProcess? restarted = null;
        try
        {
            // The window: Slots whole-second slots, starting a few seconds from now (both nodes are up and looping).
            var now = DateTimeOffset.UtcNow;
            var first = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, now.Second, TimeSpan.Zero).AddSeconds(4);
            var last = first.AddSeconds(Slots - 1);
            // Allow: a run still going never makes a slot skip; All: a slot a loaded loop passed late is still fired.
            using var created = await a.Http.PostAsJsonAsync("/api/schedules", new
            {
                name = "every-second", cron = "* * * * * *", task = "demo.noop", overlap = "Allow", catchUp = "All",
                startAt = first.ToString("O", CultureInfo.InvariantCulture), endAt = last.ToString("O", CultureInfo.InvariantCulture),
            });
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
            var scheduleId = await ScalarAsync(connection, "SELECT \"Id\" FROM \"Schedules\" WHERE \"Name\" = 'every-second'");

            // A few slots in, node B dies without a word (maybe mid-transaction) and is started again. Early, so that the new
            // process has most of the window to start in: on a loaded machine a start takes tens of seconds.
            await WaitUntilAsync(connection, $"SELECT COUNT(*) FROM \"ScheduleFirings\" WHERE \"ScheduleId\" = {scheduleId}", 3, TimeSpan.FromSeconds(90));
            var killedAt = DateTimeOffset.UtcNow;
            var victim = ClusterProbe.NodeOf(b);
            b.Crash();
            restarted = await ConsoleProcess.StartAsync(settings);
            var restartedAt = DateTimeOffset.UtcNow;
            output.WriteLine($"killed node B at {killedAt:HH:mm:ss.fff}, restarted and ready at {restartedAt:HH:mm:ss.fff}; window {first:HH:mm:ss} … {last:HH:mm:ss}");
            Assert.True(restartedAt < last, "the restarted node came up after the window closed: the test would not show a restart in the middle");

            await WaitUntilAsync(connection, $"SELECT COUNT(*) FROM \"ScheduleFirings\" WHERE \"ScheduleId\" = {scheduleId}", Slots, TimeSpan.FromSeconds(150));
            // Past the end every node has nothing left to fire for this schedule; give both loops a pass beyond it.
            await WaitUntilAsync(connection, $"SELECT CASE WHEN now() > '{last.AddSeconds(3):O}'::timestamptz THEN 1 ELSE 0 END", 1, TimeSpan.FromSeconds(60));

            var slots = await ListAsync(connection, $"SELECT \"Slot\" FROM \"ScheduleFirings\" WHERE \"ScheduleId\" = {scheduleId} ORDER BY \"Slot\"");
            var expected = Enumerable.Range(0, Slots).Select(i => first.AddSeconds(i).ToUnixTimeMilliseconds() * 1000).ToList();
            Assert.Equal(expected, slots);
            Assert.Equal((long)Slots, await ScalarAsync(connection, $"SELECT COUNT(*) FROM \"ScheduleFirings\" WHERE \"ScheduleId\" = {scheduleId} AND \"Outcome\" = {(int)FiringOutcome.Started} AND \"ExecutionId\" IS NOT NULL"));
            // Exactly one run per slot, each the one its firing names.
            Assert.Equal((long)Slots, await ScalarAsync(connection, "SELECT COUNT(*) FROM \"Executions\" WHERE \"ScheduleName\" = 'every-second'"));
            Assert.Equal(0L, await ScalarAsync(connection,
                "SELECT COUNT(*) FROM (SELECT \"ScheduleSlot\" FROM \"Executions\" WHERE \"ScheduleName\" = 'every-second' GROUP BY \"ScheduleSlot\" HAVING COUNT(*) > 1) x"));
            Assert.Equal((long)Slots, await ScalarAsync(connection,
                $"SELECT COUNT(*) FROM \"ScheduleFirings\" f JOIN \"Executions\" e ON e.\"Id\" = f.\"ExecutionId\" WHERE f.\"ScheduleId\" = {scheduleId} AND e.\"ScheduleSlot\" = f.\"Slot\""));

            var byNode = await ListTextAsync(connection,
                $"SELECT \"NodeId\" || ': ' || COUNT(*) FROM \"ScheduleFirings\" WHERE \"ScheduleId\" = {scheduleId} GROUP BY \"NodeId\" ORDER BY 1");
            output.WriteLine("firings by node: " + string.Join(", ", byNode) + $" (node B was {victim})");
        }
        finally
        {
            if (restarted is not null) await restarted.DisposeAsync();
            await b.DisposeAsync();
        }
    }

    private static async Task<long> ScalarAsync(string connection, string sql)
    {
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync();
        await using var command = c.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    private static async Task<List<long>> ListAsync(string connection, string sql)
    {
        var list = new List<long>();
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync();
        await using var command = c.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) list.Add(reader.GetInt64(0));
        return list;
    }

    private static async Task<List<string>> ListTextAsync(string connection, string sql)
    {
        var list = new List<string>();
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync();
        await using var command = c.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) list.Add(reader.GetString(0));
        return list;
    }

    private static async Task WaitUntilAsync(string connection, string countSql, long expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        long last = -1;
        while (DateTime.UtcNow < deadline)
        {
            last = await ScalarAsync(connection, countSql);
            if (last >= expected) return;
            await Task.Delay(200);
        }
        Assert.Fail($"Timed out waiting for {countSql} to reach {expected}; last {last}");
    }
}
