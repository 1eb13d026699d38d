using System.Net;
using System.Net.Http.Json;
using Microsoft.Data.Sqlite;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Infrastructure;
using Xunit.Abstractions;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// A real crash: the built Console runs as a child process on a SQLite file, is killed with SIGKILL mid-way (no
/// drain, no final heartbeat), and a new process on the same file must finish every record exactly once.
/// </summary>
public sealed class CrashSafetyTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Count = 1000;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "taskdeck-crash-" + Guid.NewGuid().ToString("N")[..8]);
    private string Database => Path.Combine(_folder, "taskdeck.db");
    private readonly List<ConsoleProcess> _processes = [];

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task KilledHost_MidWay_NewHostOnTheSameFile_FinishesAllOnce()
    {
        var first = await StartAsync();
        var client = first.Http;
        // Due together a few seconds from now, so every record is stored before the workers start on them.
        var due = DateTimeOffset.UtcNow.AddSeconds(4);
        // One in a hundred sleeps 10 s, so that work is certainly Running when the host dies (the Lost → retry path).
        await Parallel.ForEachAsync(Enumerable.Range(0, Count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            object body = i % 100 == 0
                ? new { task = "demo.sleep", args = new { seconds = 10 }, maxRetries = 1, runAt = due }
                : new { task = "demo.noop", maxRetries = 1, runAt = due };
            using var response = await client.PostAsJsonAsync("/api/tasks", body, ct);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        });
        Assert.Equal(Count, await ScalarAsync("SELECT COUNT(*) FROM \"Executions\""));

        // A sleeper, not a no-op, must be Running, and one that started moments ago: a no-op is Running for a moment, and a
        // sleeper seen near the end of its 10 s (a loaded machine slow to reach 20 successes) was done before the kill landed.
        await WaitAsync(async () => await CountAsync(ExecutionState.Succeeded) >= 20 && await ScalarAsync(
                "SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = @s AND \"Name\" = 'demo.sleep' AND \"StartedAt\" > @since",
                ("s", (int)ExecutionState.Running), ("since", TaskdeckDbContext.ToMicros(DateTimeOffset.UtcNow.AddSeconds(-3)))) >= 1,
            TimeSpan.FromSeconds(120), "20 succeeded and a sleeper just started on the first host");
        first.Crash();
        var succeededAtKill = await CountAsync(ExecutionState.Succeeded);
        var runningAtKill = await CountAsync(ExecutionState.Running);
        output.WriteLine($"killed with {succeededAtKill} succeeded, {runningAtKill} running");
        Assert.True(succeededAtKill < Count, "the first host finished everything before it was killed: nothing left to recover");
        // Without work Running at the kill, the recovery below would prove nothing about lost attempts.
        Assert.True(runningAtKill >= 1, "nothing was Running when the host was killed");

        await StartAsync();
        // Minutes, not seconds: on a 2-core machine shared by several suites the second host took over 90 s (its start, the
        // lease expiry, then 1,000 tasks); a condition with a generous deadline costs nothing when all is well.
        await WaitAsync(async () => await CountAsync(ExecutionState.Succeeded) == Count, TimeSpan.FromMinutes(4), "all succeeded on the second host");

        Assert.Equal(Count, await ScalarAsync("SELECT COUNT(*) FROM \"Executions\""));
        Assert.Equal(0, await ScalarAsync(
            "SELECT COUNT(*) FROM \"Executions\" e WHERE (SELECT COUNT(*) FROM \"Attempts\" a WHERE a.\"ExecutionId\" = e.\"Id\" AND a.\"Outcome\" = @s) <> 1",
            ("s", (int)ExecutionState.Succeeded)));
        Assert.Equal(0, await ScalarAsync(
            "SELECT COUNT(*) FROM \"Executions\" e WHERE (SELECT COUNT(*) FROM \"StateChanges\" h WHERE h.\"ExecutionId\" = e.\"Id\" AND h.\"Transition\" = 'Succeed') <> 1"));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM \"Attempts\" WHERE \"FinishedAt\" IS NULL"));
        var lost = await ScalarAsync("SELECT COUNT(*) FROM \"Attempts\" WHERE \"Outcome\" = @s", ("s", (int)ExecutionState.Lost));
        Assert.Equal(runningAtKill, lost);
        Assert.True(lost >= 1);
        output.WriteLine($"{lost} attempts lost in the crash and retried");
    }

    private Task<long> CountAsync(ExecutionState state) => ScalarAsync("SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = @s", ("s", (int)state));

    private async Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new SqliteConnection($"Data Source={Database};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue("@" + name, value);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    private async Task<ConsoleProcess> StartAsync()
    {
        var process = await ConsoleProcess.StartAsync(new Dictionary<string, string>
        {
            ["ConnectionStrings:Taskdeck"] = $"Data Source={Database}",
            // A lease of 10 s, not 2: the lost attempts must be exactly those running at the kill, and on a 2-core machine
            // shared by two suites a host's own heartbeat was once late by 2 s — that host then stopped its own running
            // attempt as lease-lost (StopWorkIfLeaseExpired, by design) and the test counted 3 lost against 2 running.
            ["Taskdeck:Leases:HeartbeatSeconds"] = "1",
            ["Taskdeck:Leases:ExpirySeconds"] = "10",
            ["Taskdeck:Leases:ReconcileSeconds"] = "1",
            // Few workers, so the run lasts long enough to be killed in the middle of it.
            ["Taskdeck:Node:WorkerCount"] = "2",
        });
        _processes.Add(process);
        return process;
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan deadline, string what)
    {
        var until = DateTime.UtcNow + deadline;
        while (!await condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"{what}: not reached in {deadline.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var p in _processes) await p.DisposeAsync();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
