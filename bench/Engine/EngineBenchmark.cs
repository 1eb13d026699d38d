using System.Diagnostics;
using Hangfire;
using Hangfire.States;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Taskdeck.Console.Hosting;
using Taskdeck.Core;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Bench.Engine;

/// <summary>
/// End-to-end no-op executions per second on the embedded default (SQLite file + Hangfire InMemory, the engine's
/// real services and workers), and in the same process, on the same Hangfire storage and server, raw Hangfire no-op
/// jobs per second. Each figure is the median of several rounds.
/// </summary>
public static class EngineBenchmark
{
    private const int SubmitBatch = 500;
    private const int Warmup = 10_000;
    /// <summary>
    /// On PostgreSQL the node and the server share the 2 cores at full load, and the runtime's background tier-1
    /// compiler gets little of them: with a warm-up of 2,000 the node's CPU per execution was still falling round after
    /// round (two nodes: 1,345 → 804 → 399 → 303 µs over four rounds of 20,000), so the median measured code half
    /// compiled. 50,000 reaches the plateau (BENCHMARKS.md, session 33).
    /// </summary>
    private const int PostgreSqlWarmup = 50_000;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length > 0 && args[0] == "profile") return await ProfileAsync(args.Length > 1 ? int.Parse(args[1]) : 5_000);
        if (args.Length > 1 && args[0] == "node") return await NodeAsync(args[1], args.Skip(2).ToArray());
        string? Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        var positional = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || !args[i - 1].StartsWith("--", StringComparison.Ordinal))).ToList();
        var n = positional.Count > 0 ? int.Parse(positional[0]) : 20_000;
        var rounds = positional.Count > 1 ? int.Parse(positional[1]) : 3;
        var postgres = Option("--storage") is { } storage && storage.Equals("postgresql", StringComparison.OrdinalIgnoreCase);
        if (Option("--storage") is { } other && !postgres && !other.Equals("sqlite", StringComparison.OrdinalIgnoreCase))
        {
            System.Console.Error.WriteLine($"--storage {other}: expected sqlite (the default) or postgresql");
            return 2;
        }
        // On PostgreSQL raw Hangfire runs a few hundred jobs a second: N of them per round would make the run last many
        // minutes for the same rate. --raw sets its count (its warm-up is at most that many jobs).
        var rawN = Option("--raw") is { } r ? int.Parse(r) : postgres ? Math.Min(n, 4_000) : n;
        var warmup = Option("--warmup") is { } w ? int.Parse(w) : postgres ? PostgreSqlWarmup : Warmup;
        // --set Key=Value (repeatable): a setting for the engine's host, e.g. Taskdeck:Hangfire:PostgreSql:LongPolling=true.
        var settings = args.Select((a, i) => (a, i)).Where(x => x.a == "--set" && x.i + 1 < args.Length)
            .Select(x => args[x.i + 1].Split('=', 2)).ToDictionary(kv => kv[0], kv => (string?)kv[1]);
        // --nodes N (PostgreSQL): N - 1 more Taskdeck nodes as child processes on the same database, each with its workers.
        var nodes = Option("--nodes") is { } nodeCount ? int.Parse(nodeCount) : 1;
        if (nodes > 1 && !postgres)
        {
            System.Console.Error.WriteLine("--nodes: more than one node needs --storage postgresql");
            return 2;
        }
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        // --statements: pg_stat_statements on the throwaway cluster; each round prints the statements it sent per item.
        var statements = postgres && args.Contains("--statements");
        var server = postgres ? await BenchPostgres.StartAsync(statements) : null;
        var others = new List<Process>();
        try
        {
            using var host = Build(folder, postgres: server?.ConnectionString, settings: settings);
            await host.StartAsync();
            // --sql "…" (repeatable, PostgreSQL): run on the bench database after the migrations, for experiments such as
            // an index dropped or a fillfactor set before the model carries it.
            foreach (var sql in args.Select((a, i) => (a, i)).Where(x => x.a == "--sql" && x.i + 1 < args.Length).Select(x => args[x.i + 1]))
            {
                if (server is null) throw new InvalidOperationException("--sql needs --storage postgresql");
                await BenchPostgres.ExecuteAsync(server.ConnectionString, sql);
                System.Console.WriteLine($"--sql: {sql}");
            }
            for (var i = 1; i < nodes; i++) others.Add(await StartNodeAsync(server!.ConnectionString, settings));
            var multi = nodes > 1;
            var engine = new List<double>();
            var raw = new List<double>();
            var engineCpu = new List<double>();
            var rawCpu = new List<double>();
            var engineServerCpu = new List<double>();
            var rawServerCpu = new List<double>();
            // Raw Hangfire.PostgreSql is round-trip bound: one producer would measure the producer, so four create jobs.
            var producers = postgres ? 4 : 1;
            // Warm-up: long enough for tiered JIT to reach optimised code (a short one measured tier-0 code at twice the
            // CPU per execution), and for the connection, the prepared statements and SQLite's pages.
            await EngineRoundAsync(host.Services, warmup, multi);
            // Raw Hangfire's jobs would run in every node's process and be counted in none but this one: not run with --nodes.
            if (!multi) await RawHangfireRoundAsync(host.Services, Math.Min(warmup, rawN), producers: producers);
            for (var round = 1; round <= rounds; round++)
            {
                var cpu = CpuNow() + ChildrenCpu(others);
                var serverCpu = server?.ServerCpu();
                var gcPause = GC.GetTotalPauseDuration();
                var gcAlloc = GC.GetTotalAllocatedBytes();
                if (statements) await server!.ResetStatementsAsync();
                var kinds = server?.ServerCpuByKind();
                var jobsBefore = server is null ? 0 : await server.HangfireJobsMadeAsync();
                engine.Add(await EngineRoundAsync(host.Services, n, multi));
                // Each Hangfire job costs the server dozens of statements: how many executions one carried is the first
                // thing to read when a round's server CPU per execution moves.
                var executionsPerJob = server is null ? 0 : (double)n / Math.Max(1, await server.HangfireJobsMadeAsync() - jobsBefore);
                if (statements) System.Console.Write("engine round, per execution:\n" + await server!.StatementsAsync(n) + BenchPostgres.CpuByKind(kinds!, server.ServerCpuByKind(), n));
                if (Environment.GetEnvironmentVariable("TASKDECK_BENCH_GC") == "1")
                    System.Console.WriteLine($"engine round: GC pause {(GC.GetTotalPauseDuration() - gcPause).TotalMilliseconds:N0} ms, allocated {(GC.GetTotalAllocatedBytes() - gcAlloc) / n / 1024.0:N1} KiB per execution, gen2 {GC.CollectionCount(2)}");
                engineCpu.Add((CpuNow() + ChildrenCpu(others) - cpu).TotalMicroseconds / n);
                if (serverCpu is { } before1 && server!.ServerCpu() is { } after1) engineServerCpu.Add((after1 - before1).TotalMicroseconds / n);
                if (multi)
                {
                    System.Console.WriteLine($"round {round}: engine {engine[^1],8:N0} executions/s on {nodes} nodes ({engineCpu[^1],5:N0} µs CPU each, all nodes, {executionsPerJob:N1} per Hangfire job)" +
                                             (engineServerCpu.Count == round ? $"   PostgreSQL server CPU: {engineServerCpu[^1]:N0} µs per execution" : ""));
                    continue;
                }
                cpu = CpuNow();
                serverCpu = server?.ServerCpu();
                if (statements) await server!.ResetStatementsAsync();
                kinds = server?.ServerCpuByKind();
                raw.Add(await RawHangfireRoundAsync(host.Services, rawN, producers: producers));
                if (statements) System.Console.Write("raw Hangfire round, per job:\n" + await server!.StatementsAsync(rawN) + BenchPostgres.CpuByKind(kinds!, server.ServerCpuByKind(), rawN));
                rawCpu.Add((CpuNow() - cpu).TotalMicroseconds / rawN);
                if (serverCpu is { } before2 && server!.ServerCpu() is { } after2) rawServerCpu.Add((after2 - before2).TotalMicroseconds / rawN);
                if (Environment.GetEnvironmentVariable("TASKDECK_BENCH_SHAPED") == "1")
                {
                    cpu = CpuNow();
                    var shaped = await RawHangfireRoundAsync(host.Services, rawN, shapedLikeEngine: true, producers: producers);
                    System.Console.WriteLine($"raw Hangfire, async DI job with a token: {shaped:N0} jobs/s ({(CpuNow() - cpu).TotalMicroseconds / rawN:N0} µs CPU each)");
                }
                var serverNote = engineServerCpu.Count == round && rawServerCpu.Count == round
                    ? $"   PostgreSQL server CPU: {engineServerCpu[^1]:N0} µs per execution, {rawServerCpu[^1]:N0} µs per raw job" : "";
                System.Console.WriteLine($"round {round}: engine {engine[^1],8:N0} executions/s ({engineCpu[^1],5:N0} µs CPU each{(server is null ? "" : $", {executionsPerJob:N1} per Hangfire job")})   raw Hangfire {raw[^1],8:N0} jobs/s ({rawCpu[^1],5:N0} µs CPU each){serverNote}");
            }
            await VerifyAsync(host.Services, warmup + n * rounds);
            foreach (var node in others) node.Kill(entireProcessTree: true);
            await host.StopAsync();
            if (multi)
            {
                System.Console.WriteLine();
                System.Console.WriteLine($"PostgreSQL: {server!.Description}");
                System.Console.WriteLine($"N = {n:N0} per round, {rounds} rounds, {nodes} nodes (this process and {nodes - 1} child process{(nodes > 2 ? "es" : "")}, one database), {Environment.ProcessorCount} cores, load average {LoadAverage()}");
                System.Console.WriteLine($"engine (submit → Succeeded on any node): {Median(engine),8:N0} executions/s (median)");
                System.Console.WriteLine($"CPU per execution (median): nodes {Median(engineCpu):N0} µs" + (engineServerCpu.Count > 0 ? $", PostgreSQL server {Median(engineServerCpu):N0} µs" : ""));
                return 0;
            }

            var e = Median(engine);
            var h = Median(raw);
            var storageName = postgres ? "PostgreSQL + Hangfire.PostgreSql" : "SQLite file + Hangfire InMemory";
            System.Console.WriteLine();
            if (server is not null) System.Console.WriteLine($"PostgreSQL: {server.Description}");
            if (settings.Count > 0) System.Console.WriteLine($"settings: {string.Join(", ", settings.Select(kv => $"{kv.Key}={kv.Value}"))}");
            System.Console.WriteLine($"N = {n:N0} per round (raw Hangfire {rawN:N0}, {producers} producer{(producers > 1 ? "s" : "")}), {rounds} rounds, {Environment.ProcessorCount} cores, workers = {host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<TaskdeckOptions>>().Value.Node.WorkerCount}, load average {LoadAverage()}");
            System.Console.WriteLine($"engine (submit → Succeeded, {storageName}): {e,8:N0} executions/s (median)");
            System.Console.WriteLine($"raw Hangfire no-op jobs, same storage and server: {h,8:N0} jobs/s (median)");
            System.Console.WriteLine($"ratio engine / raw Hangfire: {e / h:P0}{(postgres ? $" ({e / h:N2}×)" : "")}");
            // Wall-clock rates follow whatever else the machine runs; CPU time per item is the work itself.
            System.Console.WriteLine($"process CPU per item (median): engine {Median(engineCpu):N0} µs, raw Hangfire {Median(rawCpu):N0} µs " +
                                     $"→ CPU-bound ceiling on {Environment.ProcessorCount} idle cores ≈ {Environment.ProcessorCount * 1e6 / Median(engineCpu):N0} executions/s");
            if (engineServerCpu.Count > 0 && rawServerCpu.Count > 0)
                System.Console.WriteLine($"PostgreSQL server CPU per item (median): engine {Median(engineServerCpu):N0} µs, raw Hangfire {Median(rawServerCpu):N0} µs " +
                                         $"→ with the bench's own, ceiling ≈ {Environment.ProcessorCount * 1e6 / (Median(engineCpu) + Median(engineServerCpu)):N0} executions/s");
            return 0;
        }
        finally
        {
            foreach (var node in others)
            {
                try { if (!node.HasExited) node.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                node.Dispose();
            }
            SqliteConnection.ClearAllPools();
            if (server is not null) await server.DisposeAsync();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "?"; }
    }

    /// <summary>
    /// Where the time goes: the same work split into its layers, each timed alone on a host without Hangfire workers —
    /// submit (insert + Hangfire job creation), the store's claim + succeed compare-and-sets, the runner called directly.
    /// </summary>
    private static async Task<int> ProfileAsync(int n)
    {
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            using var host = Build(folder, workers: false);
            await host.StartAsync();
            var executions = host.Services.GetRequiredService<ExecutionService>();
            var transitions = host.Services.GetRequiredService<ExecutionTransitions>();
            var runner = host.Services.GetRequiredService<Taskdeck.Core.Executors.ExecutionRunner>();
            var store = host.Services.GetRequiredService<ExecutionStore>();
            var spec = new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" };
            var node = host.Services.GetRequiredService<Taskdeck.Core.Workers.NodeIdentity>().Id;

            var backlog = host.Services.GetRequiredService<Taskdeck.Core.Dispatch.DispatchBacklog>();
            async Task<List<long>> SubmitAsync()
            {
                var ids = new List<long>(n);
                for (var i = 0; i < n; i += SubmitBatch)
                    ids.AddRange((await executions.SubmitManyAsync(Enumerable.Repeat(spec, Math.Min(SubmitBatch, n - i)).ToList())).Select(e => e.Id));
                // A batch this big gets its Hangfire jobs after the answer: count them in, and keep them out of the next step.
                while (backlog.Pending > 0) await Task.Delay(1);
                return ids;
            }
            async Task<double> TimedAsync(string what, Func<Task> work)
            {
                var clock = Stopwatch.StartNew();
                var cpu = CpuNow();
                await work();
                var rate = n / clock.Elapsed.TotalSeconds;
                System.Console.WriteLine($"{what,-58} {rate,9:N0} /s   {clock.Elapsed.TotalMilliseconds * 1000 / n,7:N1} µs each   {(CpuNow() - cpu).TotalMicroseconds / n,6:N0} µs CPU each");
                return rate;
            }
            async Task ParallelAsync(IReadOnlyList<long> ids, int workers, Func<long, Task> work)
            {
                var next = -1;
                await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < ids.Count) await work(ids[i]);
                })));
            }

            await SubmitAsync(); // warm-up
            List<long> a = [], b = [];
            await TimedAsync("submit (insert, Hangfire job, job id), batches of 500", async () => a = await SubmitAsync());
            await TimedAsync("  of which store.InsertAsync, batches of 500", async () =>
            {
                for (var i = 0; i < n; i += SubmitBatch)
                    await store.InsertAsync(Enumerable.Repeat((spec, ExecutionState.Pending), Math.Min(SubmitBatch, n - i)).ToList(), DateTimeOffset.UtcNow, "bench");
            });
            var dispatcher = host.Services.GetRequiredService<Taskdeck.Core.Dispatch.ExecutionDispatcher>();
            await TimedAsync("  of which Hangfire job + job id write, batches of 500", async () =>
            {
                for (var i = 0; i < n; i += SubmitBatch)
                    await dispatcher.DispatchManyAsync(a.Skip(i).Take(SubmitBatch).Select(id => (id, 0, (DateTimeOffset?)DateTimeOffset.UtcNow.AddDays(1))).ToList(), DateTimeOffset.UtcNow);
            });
            await TimedAsync("store FindAsync (plain reader), 20 in parallel", () => ParallelAsync(a, 20, id => store.FindAsync(id)));
            await TimedAsync("transitions Claim + Succeed, 20 in parallel", () => ParallelAsync(a, 20, async id =>
            {
                await transitions.ApplyAsync(new TransitionCommand(id, Transition.Claim) { NodeId = node });
                await transitions.ApplyAsync(new TransitionCommand(id, Transition.Succeed) { NodeId = node, ExpectedAttempt = 1 });
            }));
            b = await SubmitAsync();
            await TimedAsync("runner.RunAsync (no Hangfire), 20 in parallel", () => ParallelAsync(b, 20, id => runner.RunAsync(id, CancellationToken.None)));
            await host.StopAsync();
            return 0;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private static IHost Build(string folder, bool workers = true, string? postgres = null, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Taskdeck"] = postgres ?? $"Data Source={Path.Combine(folder, "taskdeck.db")}",
            ["Taskdeck:Storage:Provider"] = postgres is null ? "Sqlite" : "PostgreSql",
            ["Taskdeck:Demo:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Taskdeck:Node:Roles"] = workers ? "Console,Workers" : "Console",
        });
        // For experiments only (the figures in BENCHMARKS.md use the shipped defaults): TASKDECK_BENCH_WORKERS=N.
        if (Environment.GetEnvironmentVariable("TASKDECK_BENCH_WORKERS") is { Length: > 0 } count)
            builder.Configuration["Taskdeck:Node:WorkerCount"] = count;
        if (settings is { Count: > 0 }) builder.Configuration.AddInMemoryCollection(settings);
        if (Environment.GetEnvironmentVariable("TASKDECK_BENCH_RECONCILE") is { Length: > 0 } reconcile)
            builder.Configuration["Taskdeck:Leases:ReconcileSeconds"] = reconcile;
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // A fresh database answers the first migration-history query with "no such table", which EF logs as an error.
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore.Database.Command", LogLevel.None);
        builder.Services.AddTaskdeckCore(builder.Configuration);
        builder.Services.AddTaskdeckAdapters();
        builder.Services.AddTaskdeckData(builder.Configuration, folder);
        builder.Services.AddTaskdeckHangfire(builder.Configuration);
        builder.Services.AddTransient<AsyncNoopJob>();
        return builder.Build();
    }

    /// <summary>Submits n demo.noop in batches and waits until every one of them has Succeeded.</summary>
    private static async Task<double> EngineRoundAsync(IServiceProvider services, int n, bool multi = false)
    {
        if (multi) return await EngineRoundOnNodesAsync(services, n);
        var executions = services.GetRequiredService<ExecutionService>();
        var events = services.GetRequiredService<ExecutionEvents>();
        var succeeded = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Nothing else runs in this host: every success from now on is one of this round's.
        using var subscription = events.Subscribe(e =>
        {
            if (e is StateChanged { To: ExecutionState.Succeeded } && Interlocked.Increment(ref succeeded) == n)
                done.TrySetResult();
        });
        var spec = new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" };
        var clock = Stopwatch.StartNew();
        for (var submitted = 0; submitted < n; submitted += SubmitBatch)
        {
            var batch = Enumerable.Repeat(spec, Math.Min(SubmitBatch, n - submitted)).ToList();
            await executions.SubmitManyAsync(batch);
        }
        await done.Task.WaitAsync(TimeSpan.FromMinutes(10));
        return n / clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// As <see cref="EngineRoundAsync"/>, with other nodes running some of the work: their successes reach this process
    /// through its change feed, as they reach any node's live pages. The clock stops when n more successes were seen; the
    /// database's count then confirms them (before session 31 the bench polled that count throughout: reading every
    /// Succeeded row, it was ≈ 10 % of the server's CPU per execution in a two-node round).
    /// </summary>
    private static async Task<double> EngineRoundOnNodesAsync(IServiceProvider services, int n)
    {
        var executions = services.GetRequiredService<ExecutionService>();
        var store = services.GetRequiredService<ExecutionStore>();
        var events = services.GetRequiredService<ExecutionEvents>();
        var succeeded = new ExecutionFilter { States = [ExecutionState.Succeeded] };
        var target = await store.CountAsync(succeeded) + n;
        var seen = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = events.Subscribe(e =>
        {
            if (e is StateChanged { To: ExecutionState.Succeeded } && Interlocked.Increment(ref seen) == n)
                done.TrySetResult();
        });
        var spec = new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" };
        var clock = Stopwatch.StartNew();
        for (var submitted = 0; submitted < n; submitted += SubmitBatch)
            await executions.SubmitManyAsync(Enumerable.Repeat(spec, Math.Min(SubmitBatch, n - submitted)).ToList());
        // Should the feed ever miss a success, the database's count (read every 10 s meanwhile) ends the wait instead. Every
        // 2 s, counting every Succeeded record was ≈ 2 % of the server's time per execution (BENCHMARKS.md, session 37).
        while (!done.Task.IsCompleted && clock.Elapsed < TimeSpan.FromMinutes(10))
            if (await Task.WhenAny(done.Task, Task.Delay(10_000)) != done.Task && await store.CountAsync(succeeded) >= target) break;
        var elapsed = clock.Elapsed;
        for (int left; (left = target - await store.CountAsync(succeeded)) > 0;)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException($"{left} of {n} executions seen succeeded are not Succeeded in the database");
            await Task.Delay(20);
        }
        return n / elapsed.TotalSeconds;
    }

    /// <summary>
    /// <c>engine node &lt;connection&gt; [--set K=V …]</c>: one more Taskdeck node (its workers included) on the database of
    /// an <c>engine … --nodes N</c> run, until its parent kills it. Says "ready" once started.
    /// </summary>
    private static async Task<int> NodeAsync(string connection, string[] args)
    {
        var settings = args.Select((a, i) => (a, i)).Where(x => x.a == "--set" && x.i + 1 < args.Length)
            .Select(x => args[x.i + 1].Split('=', 2)).ToDictionary(kv => kv[0], kv => (string?)kv[1]);
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-bench-node-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            using var host = Build(folder, postgres: connection, settings: settings);
            await host.StartAsync();
            System.Console.WriteLine("ready");
            // The parent kills this process; a closed standard input (the parent gone) ends it too.
            await System.Console.In.ReadToEndAsync();
            await host.StopAsync();
            return 0;
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private static async Task<Process> StartNodeAsync(string connection, IReadOnlyDictionary<string, string?> settings)
    {
        // This same program: `dotnet Taskdeck.Bench.dll …` (or its apphost) with the node's arguments.
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(EngineBenchmark).Assembly.Location);
        foreach (var a in new[] { "engine", "node", connection }) start.ArgumentList.Add(a);
        foreach (var (key, value) in settings) { start.ArgumentList.Add("--set"); start.ArgumentList.Add($"{key}={value}"); }
        var process = Process.Start(start)!;
        while (await process.StandardOutput.ReadLineAsync() is { } line)
            if (line == "ready") return process;
        throw new InvalidOperationException($"the second node exited with {(process.HasExited ? process.ExitCode : -1)} before it was ready");
    }

    private static TimeSpan ChildrenCpu(IEnumerable<Process> children)
    {
        var total = TimeSpan.Zero;
        foreach (var child in children)
        {
            try { child.Refresh(); total += child.TotalProcessorTime; }
            catch (InvalidOperationException) { }
        }
        return total;
    }

    private static int _rawDone;
    private static int _rawTarget;
    private static TaskCompletionSource _rawFinished = new();

    /// <summary>The Hangfire job of the raw round: does nothing but count.</summary>
    public static void RawNoop()
    {
        if (Interlocked.Increment(ref _rawDone) == Volatile.Read(ref _rawTarget)) _rawFinished.TrySetResult();
    }

    /// <summary>Shaped like the engine's job (an async instance method with an id and a token, made by DI) but doing nothing.</summary>
    public sealed class AsyncNoopJob
    {
        public async Task RunAsync(long id, CancellationToken ct)
        {
            await Task.Yield();
            RawNoop();
        }
    }

    private static async Task<double> RawHangfireRoundAsync(IServiceProvider services, int n, bool shapedLikeEngine = false, int producers = 1)
    {
        var jobs = services.GetRequiredService<IBackgroundJobClient>();
        _rawDone = 0;
        _rawTarget = n;
        _rawFinished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = Stopwatch.StartNew();
        void Produce(int count)
        {
            for (var i = 0; i < count; i++)
            {
                if (shapedLikeEngine) jobs.Create<AsyncNoopJob>(j => j.RunAsync(i, CancellationToken.None), new EnqueuedState("default"));
                else jobs.Create(() => RawNoop(), new EnqueuedState("default"));
            }
        }
        if (producers == 1) Produce(n);
        else await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(() => Produce(n / producers + (p < n % producers ? 1 : 0)))));
        await _rawFinished.Task.WaitAsync(TimeSpan.FromMinutes(10));
        return n / clock.Elapsed.TotalSeconds;
    }

    private static async Task VerifyAsync(IServiceProvider services, int expected)
    {
        var counts = await services.GetRequiredService<ExecutionQueries>().CountByStateAsync(new ExecutionFilter());
        var ok = counts.GetValueOrDefault(ExecutionState.Succeeded);
        if (ok != expected || counts.Values.Sum() != expected)
            throw new InvalidOperationException($"expected {expected} Succeeded executions, found {string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}"))}");
    }

    private static TimeSpan CpuNow()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
