using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Bench.Chaos;

/// <summary>What a chaos run found: every figure the issue asks for, and every execution that broke a rule.</summary>
public sealed record ChaosReport(int Rounds, long Executions, long DagRuns, TimeSpan SlowestRecovery, TimeSpan Total, IReadOnlyList<string> Problems)
{
    public override string ToString() =>
        $"{Rounds} rounds · {Executions:N0} executions ({DagRuns} DAG runs) · slowest recovery {SlowestRecovery.TotalSeconds:0.0} s · total {Total.TotalSeconds:0} s · " +
        (Problems.Count == 0 ? "every execution final and succeeded exactly once, no DAG stuck" : $"{Problems.Count} problems: {string.Join("; ", Problems.Take(10))}");
}

/// <summary>
/// SIGKILL of the real Console process at a random moment while mixed work runs (handlers, commands, a DAG per round),
/// then a restart on the same SQLite file, round after round; at the end every execution must be final, each succeeded
/// exactly once (one succeeded attempt, one Succeed in its history, no attempt left open), and every DAG run Completed.
/// Recovery is the time from the kill until the restarted node is ready and no record the dead node held still reads Running.
/// Shared by <c>bench -- chaos</c> and the test suite (linked into tests/Unit).
/// </summary>
public sealed class ChaosRun(int rounds, int tasks, int dagSize, Action<string> log)
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "taskdeck-chaos-" + Guid.NewGuid().ToString("N")[..8]);
    private string Database => Path.Combine(_folder, "taskdeck.db");

    public async Task<ChaosReport> RunAsync(CancellationToken ct = default)
    {
        Directory.CreateDirectory(_folder);
        var total = Stopwatch.StartNew();
        var random = new Random(Environment.TickCount);
        var slowest = TimeSpan.Zero;
        var perRound = Math.Max(1, tasks / rounds);
        Node? node = null;
        try
        {
            for (var round = 1; round <= rounds; round++)
            {
                node ??= await Node.StartAsync(Database, ct);
                await SubmitAsync(node, round, round == rounds ? tasks - perRound * (rounds - 1) : perRound, random, ct);
                // A random moment while that work runs (and earlier rounds' retries with it).
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(100, 1500)), ct);
                var held = await HeldAsync(ct);
                var killedAt = Stopwatch.StartNew();
                node.Crash();
                node = await Node.StartAsync(Database, ct);
                await UntilAsync(async () => await StillRunningAsync(held, ct) == 0, TimeSpan.FromSeconds(120), "the dead node's work to be recovered", ct);
                var recovery = killedAt.Elapsed;
                if (recovery > slowest) slowest = recovery;
                log($"round {round}: killed holding {held.Count} running, recovered in {recovery.TotalSeconds:0.0} s");
            }
            await UntilAsync(async () => await ScalarAsync("SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" <> @s", ("s", (int)ExecutionState.Succeeded)) == 0
                                          && await ScalarAsync("SELECT COUNT(*) FROM \"DagRuns\" WHERE \"State\" <> @c", ("c", (int)DagRunState.Completed)) == 0,
                TimeSpan.FromSeconds(300), "every execution to succeed and every DAG run to complete", ct, throwOnTimeout: false);
            var report = new ChaosReport(rounds, await ScalarAsync("SELECT COUNT(*) FROM \"Executions\""), await ScalarAsync("SELECT COUNT(*) FROM \"DagRuns\""),
                slowest, total.Elapsed, await ProblemsAsync());
            return report;
        }
        finally
        {
            if (node is not null) await node.DisposeAsync();
            SqliteConnection.ClearAllPools();
            try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
        }
    }

    private async Task SubmitAsync(Node node, int round, int count, Random random, CancellationToken ct)
    {
        var retries = rounds + 3;
        var bodies = Enumerable.Range(0, count).Select(i => (i % 4) switch
        {
            0 => (object)new { task = "demo.noop", maxRetries = retries },
            1 => new { task = "demo.sleep", args = new { seconds = 0.05 * random.Next(1, 6) }, maxRetries = retries },
            2 => new { command = new[] { "/bin/sleep", (0.05 * random.Next(1, 6)).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) }, maxRetries = retries },
            _ => new { command = new[] { "/bin/true" }, maxRetries = retries },
        }).ToList();
        await Parallel.ForEachAsync(bodies, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (body, token) =>
        {
            using var response = await node.Http.PostAsJsonAsync("/api/tasks", body, token);
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"submit: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(token)}");
        });
        // One DAG per round: a fan-out of sleeps (commands) and no-ops (handlers) into a join.
        var dag = new Dictionary<string, object>();
        var leaves = new List<string>();
        for (var i = 0; i < dagSize - 1; i++)
        {
            var name = $"t{i}";
            leaves.Add(name);
            dag[name] = i % 2 == 0
                ? new { job = new { command = new[] { "/bin/sleep", "0.1" } }, maxRetries = retries, children = new[] { "join" } }
                : new { job = new { task = "demo.noop" }, maxRetries = retries, children = new[] { "join" } };
        }
        dag["join"] = new { job = new { task = "demo.noop" }, maxRetries = retries };
        using var submitted = await node.Http.PostAsJsonAsync("/v1/dagrun", new { tag = $"chaos-{round}", tasks = dag }, ct);
        if (!submitted.IsSuccessStatusCode) throw new InvalidOperationException($"DAG submit: {(int)submitted.StatusCode} {await submitted.Content.ReadAsStringAsync(ct)}");
    }

    /// <summary>(id, attempt) of every record the node holds as running right now.</summary>
    private async Task<List<(long Id, long Attempt)>> HeldAsync(CancellationToken ct)
    {
        var held = new List<(long, long)>();
        await using var db = await OpenAsync();
        await using var command = db.CreateCommand();
        command.CommandText = $"SELECT \"Id\", \"AttemptCount\" FROM \"Executions\" WHERE \"State\" = {(int)ExecutionState.Running}";
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) held.Add((reader.GetInt64(0), reader.GetInt64(1)));
        return held;
    }

    private async Task<int> StillRunningAsync(List<(long Id, long Attempt)> held, CancellationToken ct)
    {
        if (held.Count == 0) return 0;
        var still = 0;
        await using var db = await OpenAsync();
        foreach (var chunk in held.Chunk(500))
        {
            await using var command = db.CreateCommand();
            command.CommandText = $"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" = {(int)ExecutionState.Running} AND (\"Id\", \"AttemptCount\") IN (VALUES {string.Join(",", chunk.Select(h => $"({h.Id},{h.Attempt})"))})";
            still += Convert.ToInt32(await command.ExecuteScalarAsync(ct));
        }
        return still;
    }

    private async Task<IReadOnlyList<string>> ProblemsAsync()
    {
        var problems = new List<string>();
        async Task Check(string what, string sql)
        {
            var n = await ScalarAsync(sql);
            if (n != 0) problems.Add($"{n} {what}");
        }
        await Check("executions not Succeeded", $"SELECT COUNT(*) FROM \"Executions\" WHERE \"State\" <> {(int)ExecutionState.Succeeded}");
        await Check("executions without exactly one succeeded attempt",
            $"SELECT COUNT(*) FROM \"Executions\" e WHERE (SELECT COUNT(*) FROM \"Attempts\" a WHERE a.\"ExecutionId\" = e.\"Id\" AND a.\"Outcome\" = {(int)ExecutionState.Succeeded}) <> 1");
        await Check("executions without exactly one Succeed in their history",
            "SELECT COUNT(*) FROM \"Executions\" e WHERE (SELECT COUNT(*) FROM \"StateChanges\" h WHERE h.\"ExecutionId\" = e.\"Id\" AND h.\"Transition\" = 'Succeed') <> 1");
        await Check("attempts left open", "SELECT COUNT(*) FROM \"Attempts\" WHERE \"FinishedAt\" IS NULL");
        await Check("DAG runs not Completed", $"SELECT COUNT(*) FROM \"DagRuns\" WHERE \"State\" <> {(int)DagRunState.Completed}");
        return problems;
    }

    private async Task<SqliteConnection> OpenAsync()
    {
        var db = new SqliteConnection($"Data Source={Database};Mode=ReadOnly;Pooling=False");
        await db.OpenAsync();
        return db;
    }

    private async Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var db = await OpenAsync();
        await using var command = db.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue("@" + name, value);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan deadline, string what, CancellationToken ct, bool throwOnTimeout = true)
    {
        var until = Stopwatch.StartNew();
        while (!await condition())
        {
            if (until.Elapsed > deadline)
            {
                if (throwOnTimeout) throw new TimeoutException($"{what}: not reached in {deadline.TotalSeconds} s");
                return;
            }
            await Task.Delay(50, ct);
        }
    }

    /// <summary>The built Console as a child process on the chaos run's SQLite file.</summary>
    private sealed class Node : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        public HttpClient Http { get; }

        private Node(Process process, int port)
        {
            _process = process;
            Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        }

        public static async Task<Node> StartAsync(string database, CancellationToken ct)
        {
            var port = FreePort();
            var start = new ProcessStartInfo("dotnet", $"\"{ConsoleDll()}\"")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetDirectoryName(ConsoleDll())!,
            };
            foreach (var (key, value) in new Dictionary<string, string>
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production", ["Urls"] = $"http://127.0.0.1:{port}",
                ["ConnectionStrings__Taskdeck"] = $"Data Source={database}",
                ["Taskdeck__Demo__Enabled"] = "false", ["Logging__LogLevel__Default"] = "Warning",
                ["Taskdeck__Auth__Anonymous"] = "Admin",
                ["Taskdeck__Commands__Enabled"] = "true", ["Taskdeck__Commands__Allow__0"] = "/bin/sleep", ["Taskdeck__Commands__Allow__1"] = "/bin/true",
                ["Taskdeck__Commands__KillGraceSeconds"] = "1",
                ["Taskdeck__Leases__HeartbeatSeconds"] = "1", ["Taskdeck__Leases__ExpirySeconds"] = "2", ["Taskdeck__Leases__ReconcileSeconds"] = "1",
                ["Taskdeck__Node__WorkerCount"] = "4",
            }) start.Environment[key] = value;
            var process = Process.Start(start)!;
            var node = new Node(process, port);
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (node._output) node._output.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (node._output) node._output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var until = Stopwatch.StartNew();
            while (until.Elapsed < TimeSpan.FromSeconds(180))
            {
                if (process.HasExited) throw new InvalidOperationException($"the console exited with {process.ExitCode}:\n{node._output}");
                try { if ((await node.Http.GetAsync("/api/readyz", ct)).IsSuccessStatusCode) return node; }
                catch (HttpRequestException) { }
                await Task.Delay(100, ct);
            }
            await node.DisposeAsync();
            throw new TimeoutException($"the console did not become ready:\n{node._output}");
        }

        /// <summary>SIGKILL of the console alone: its commands are left to finish or die as after a real crash.</summary>
        public void Crash()
        {
            if (_process.HasExited) return;
            Signals.Send(_process.Id, Signals.Kill);
            _process.WaitForExit(30_000);
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }

        private static int FreePort()
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            listener.Start();
            return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        private static string ConsoleDll()
        {
            var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
            var configuration = here.Parent!.Name;
            var root = here;
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Console.sln"))) root = root.Parent;
            if (root is null) throw new InvalidOperationException("Console.sln not found above " + here.FullName);
            var dll = Path.Combine(root.FullName, "src", "Console", "bin", configuration, "net10.0", "Taskdeck.Console.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("Build src/Console first", dll);
        }
    }
}
