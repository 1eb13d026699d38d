using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Taskdeck.Bench.Engine;
using Taskdeck.Console.Hosting;
using Taskdeck.Core;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dags;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Bench.Dags;

/// <summary>
/// DAG-run figures on the embedded default (SQLite file, in-memory Hangfire, default worker count) or, with
/// <c>--storage postgresql</c>, on PostgreSQL with Hangfire.PostgreSql:
/// a 10,000-task spec's validate + store time, the latency from a parent's success to its child's start, and the
/// scheduling overhead of a 1,000-task chain of no-op handlers.
/// </summary>
public static class DagBenchmarks
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length > 0 && args[0] == "big") return await BigRunBench.RunAsync(args[1..]);
        // --storage postgresql: each host on its own fresh database of one throwaway cluster (or TASKDECK_BENCH_PG).
        var at = Array.IndexOf(args, "--storage");
        var storage = at >= 0 && at + 1 < args.Length ? args[at + 1] : "sqlite";
        if (at >= 0) args = [.. args[..at], .. args[Math.Min(args.Length, at + 2)..]];
        if (storage is not ("sqlite" or "postgresql"))
        {
            System.Console.Error.WriteLine($"--storage {storage}: expected sqlite (the default) or postgresql");
            return 2;
        }
        // --set Key=Value (repeatable): a setting tried against the shipped defaults, e.g. Taskdeck:Hangfire:PostgreSql:LongPolling=true.
        var settings = new Dictionary<string, string?>();
        for (int i; (i = Array.IndexOf(args, "--set")) >= 0 && i + 1 < args.Length; args = [.. args[..i], .. args[(i + 2)..]])
            settings[args[i + 1].Split('=', 2)[0]] = args[i + 1].Split('=', 2).ElementAtOrDefault(1);
        // --statements (PostgreSQL): pg_stat_statements on the throwaway cluster; each chain prints the statements it sent per task.
        var statements = args.Contains("--statements");
        args = [.. args.Where(a => a != "--statements")];
        // The counted database is the throwaway cluster's first: one host only, so the chains alone.
        if (statements && (storage != "postgresql" || args.Length == 0 || args[0] is not ("chain" or "fanin")))
            throw new ArgumentException("--statements goes with `dags chain|fanin … --storage postgresql`");
        if (statements && Environment.GetEnvironmentVariable("TASKDECK_BENCH_PG") is { Length: > 0 })
            throw new ArgumentException("--statements needs the bench's throwaway cluster (pg_stat_statements preloaded): unset TASKDECK_BENCH_PG");
        await using var server = storage == "postgresql" ? await BenchPostgres.StartAsync(statements) : null;
        StatementCounter = statements ? server : null;
        async Task<BenchHost> StartHostAsync(bool workers) =>
            await BenchHost.StartAsync(workers, server is null ? null : statements ? server.ConnectionString : await server.NewDatabaseAsync(), settings);
        var where = (server is null ? "embedded default (SQLite file + Hangfire InMemory)" : $"PostgreSQL + Hangfire.PostgreSql ({server.Description})")
                    + string.Concat(settings.Select(kv => $" · {kv.Key}={kv.Value}"));

        if (args.Length > 0 && args[0] == "fanin")
        {
            System.Console.WriteLine($"Taskdeck DAG fan-in · {where} · {Environment.ProcessorCount} cores · load average at start {LoadAverage()}");
            await using var fanIn = await StartHostAsync(workers: true);
            // As the engine bench warms its node before it measures: a node that has run for a while has compiled its hot
            // code at the optimizing tier. One 1,024-task fan-in left the 10,000-task one running Hangfire's and Npgsql's
            // code at tier 0 and the JIT busy (≈ 10 % of the samples, `perf`); the first 10,000 is still printed (cold).
            var warmupsAt = Array.IndexOf(args, "--warmups");
            var warmups = warmupsAt >= 0 && warmupsAt + 1 < args.Length ? int.Parse(args[warmupsAt + 1], System.Globalization.CultureInfo.InvariantCulture) : 3;
            for (var i = 0; i < warmups; i++) await FanInAsync(fanIn, 1_024);
            var runsAt = Array.IndexOf(args, "--runs");
            var runs = runsAt >= 0 && runsAt + 1 < args.Length ? int.Parse(args[runsAt + 1], System.Globalization.CultureInfo.InvariantCulture) : 2;
            for (var i = 0; i < runs; i++) await FanInAsync(fanIn, 10_000);
            System.Console.WriteLine($"load average at end {LoadAverage()}");
            return 0;
        }
        var storeOnly = args.Length > 0 && args[0] == "store";
        var chainOnly = args.Length > 0 && args[0] == "chain";
        if (storeOnly || chainOnly) args = args[1..];
        var repeats = args.Length > 0 && int.TryParse(args[0], out var r) ? r : 3;
        System.Console.WriteLine($"Taskdeck DAG benchmarks · {where} · {Environment.ProcessorCount} cores · .NET {Environment.Version} · {repeats} repeats · load average at start {LoadAverage()}");

        if (!chainOnly)
            await using (var host = await StartHostAsync(workers: false))
                await StoreTenThousandAsync(host, repeats);
        if (storeOnly) return 0;

        await using (var host = await StartHostAsync(workers: true))
        {
            await ChainAsync(host, 100, warmUp: true);
            for (var i = 0; i < repeats; i++)
            {
                await ChainAsync(host, 1000, warmUp: false);
                await IndependentAsync(host, 1000);
            }
        }
        System.Console.WriteLine($"\nload average at end {LoadAverage()}");
        return 0;
    }

    private static string TenThousandSpec()
    {
        var values = JsonSerializer.Serialize(Enumerable.Range(0, 100).Select(i => i.ToString()).ToArray());
        return """
            {"tag":"bench-10k","parameters":{"A":VALUES,"B":VALUES},
             "tasks":{"work":{"job":{"command":["/bin/echo","{{A}}","{{B}}"]},"children":["join"]},
                      "join":{"job":{"task":"demo.noop"}}}}
            """.Replace("VALUES", values);
    }

    private static async Task StoreTenThousandAsync(BenchHost host, int repeats)
    {
        using var document = JsonDocument.Parse(TenThousandSpec());
        var dags = host.Get<DagService>();
        System.Console.WriteLine();
        System.Console.WriteLine("## 10,000-task spec (template over 100 × 100 values → join): validate + store, no workers running");
        var validate = new List<double>();
        var submit = new List<double>();
        var onHangfire = new List<double>();
        for (var i = 0; i <= repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            var plan = dags.Validate(document.RootElement);
            var v = sw.Elapsed.TotalMilliseconds;
            if (!plan.Valid || plan.Tasks.Count != 10_001) throw new InvalidOperationException(string.Join("; ", plan.Errors.Take(3)));
            var cpu = Cpu();
            sw.Restart();
            var submission = await dags.SubmitAsync(document.RootElement);
            var s = sw.Elapsed.TotalMilliseconds;
            var c = (Cpu() - cpu).TotalMilliseconds;
            if (!submission.Accepted) throw new InvalidOperationException(string.Join("; ", submission.Errors.Take(3)));
            await host.BacklogDrainedAsync();
            var queued = sw.Elapsed.TotalMilliseconds;
            var tasks = await host.Get<IDagStore>().TasksAsync(submission.RunId!.Value);
            var edges = await host.Get<IDagStore>().EdgesAsync(submission.RunId!.Value);
            var label = i == 0 ? "warm-up" : $"run {i}";
            System.Console.WriteLine($"{label}: validate (parse + expand + check) {v:0} ms; submit (validate + run + {tasks.Count} executions + {edges.Count} edges + {tasks.Count(t => t.State == ExecutionState.Queued)} roots queued) {s:0} ms wall, {c:0} ms process CPU; every root's Hangfire job created {queued:0} ms after the submit began");
            if (i == 0) continue;
            validate.Add(v);
            submit.Add(s);
            onHangfire.Add(queued);
        }
        System.Console.WriteLine($"median: validate {Median(validate):0} ms, validate + store {Median(submit):0} ms, until every root is on Hangfire {Median(onHangfire):0} ms");

        var split = await host.MeasureSubmitPartsAsync(document.RootElement);
        System.Console.WriteLine($"where the time goes (one more submit): {split}");
    }

    private static async Task ChainAsync(BenchHost host, int length, bool warmUp)
    {
        var tasks = new Dictionary<string, object>();
        for (var i = 0; i < length; i++)
            tasks[$"t{i:0000}"] = i == 0 ? new { job = new { task = "demo.noop" } } : new { job = new { task = "demo.noop" }, parents = new[] { $"t{i - 1:0000}" } };
        using var document = JsonDocument.Parse(JsonSerializer.Serialize(new { tag = $"chain-{length}", tasks }));

        var events = new ConcurrentQueue<StateChanged>();
        using var subscription = host.Get<ExecutionEvents>().Subscribe(e => { if (e is StateChanged s && s.DagRunId is not null) events.Enqueue(s); });
        var store = host.Get<IDagStore>();
        if (StatementCounter is { } counter && !warmUp) await counter.ResetStatementsAsync();
        var cpu = Cpu();
        var sw = Stopwatch.StartNew();
        var submission = await host.Get<DagService>().SubmitAsync(document.RootElement);
        var runId = submission.RunId ?? throw new InvalidOperationException(string.Join("; ", submission.Errors));
        // The run's state alone, every 25 ms: its whole row (with its 60 KB spec) read every 5 ms was a third of the
        // PostgreSQL server's time per task (`--statements`, BENCHMARKS.md session 19). 25 ms is < 0.5 % of a chain's total.
        while (await store.RunStateAsync(runId) is not (DagRunState.Completed or DagRunState.Errored))
            await Task.Delay(25);
        var total = sw.Elapsed;
        var cpuUsed = Cpu() - cpu;
        if (warmUp) return;

        var detail = (await host.Get<DagQueries>().GetAsync(runId))!;
        if (detail.Run.State != DagRunState.Completed) throw new InvalidOperationException($"chain ended {detail.Run.State}");
        var work = TimeSpan.FromTicks(detail.Attempts.Sum(a => (a.FinishedAt!.Value - a.StartedAt).Ticks));
        var mine = events.Where(e => e.DagRunId == runId).ToList();
        var succeeded = mine.Where(e => e.To == ExecutionState.Succeeded).ToDictionary(e => e.ExecutionId, e => e.At);
        var released = mine.Where(e => e.Transition == Transition.Release).ToDictionary(e => e.ExecutionId, e => e.At);
        var claimed = mine.Where(e => e.Transition == Transition.Claim).ToDictionary(e => e.ExecutionId, e => e.At);
        var latency = new List<double>();
        var toRelease = new List<double>();
        foreach (var edge in detail.Edges)
        {
            latency.Add((claimed[edge.ChildExecutionId] - succeeded[edge.ParentExecutionId]).TotalMilliseconds);
            toRelease.Add((released[edge.ChildExecutionId] - succeeded[edge.ParentExecutionId]).TotalMilliseconds);
        }
        var overhead = total - work;
        System.Console.WriteLine();
        System.Console.WriteLine($"## {length}-task chain of demo.noop (run {runId})");
        System.Console.WriteLine($"total {total.TotalMilliseconds:0} ms (submit → COMPLETED); task work {work.TotalMilliseconds:0} ms; total minus work {overhead.TotalMilliseconds:0} ms ({overhead.TotalMilliseconds / length:0.00} ms per task); process CPU {cpuUsed.TotalMilliseconds:0} ms");
        System.Console.WriteLine($"parent success → child start ({latency.Count} edges): p50 {Percentile(latency, 50):0.00} ms, p99 {Percentile(latency, 99):0.00} ms, max {latency.Max():0.00} ms");
        System.Console.WriteLine($"  of which success → release (observer: find ready children, CAS release): p50 {Percentile(toRelease, 50):0.00} ms, p99 {Percentile(toRelease, 99):0.00} ms");
        if (StatementCounter is { } counted) System.Console.Write(await counted.StatementsAsync(length, top: 24));
    }

    /// <summary>The cluster whose statements a chain counts (<c>--statements</c>), or null.</summary>
    private static BenchPostgres? StatementCounter;

    /// <summary>
    /// A wide fan-in: one no-op template over √n × √n values, all feeding one join. Every parent's success asks whether
    /// the join is ready, so the scheduler's cost per success grows with the join's parents.
    /// </summary>
    private static async Task FanInAsync(BenchHost host, int width)
    {
        var side = (int)Math.Sqrt(width);
        var values = JsonSerializer.Serialize(Enumerable.Range(0, side).Select(i => i.ToString()).ToArray());
        var spec = "{\"tag\":\"fan-in\",\"parameters\":{\"A\":VALUES,\"B\":VALUES},\"tasks\":{" +
                   "\"work\":{\"job\":{\"task\":\"demo.noop\",\"environment\":[\"A={{A}}\",\"B={{B}}\"]},\"children\":[\"join\"]}," +
                   "\"join\":{\"job\":{\"task\":\"demo.noop\"}}}}";
        using var document = JsonDocument.Parse(spec.Replace("VALUES", values));
        var store = host.Get<IDagStore>();
        if (StatementCounter is { } counter) await counter.ResetStatementsAsync();
        var cpu = Cpu();
        var sw = Stopwatch.StartNew();
        var submission = await host.Get<DagService>().SubmitAsync(document.RootElement);
        var runId = submission.RunId ?? throw new InvalidOperationException(string.Join("; ", submission.Errors.Take(3)));
        var submitted = sw.Elapsed;
        DagRunState? state;
        while ((state = await store.RunStateAsync(runId)) is not (DagRunState.Completed or DagRunState.Errored))
            await Task.Delay(20);
        System.Console.WriteLine($"## fan-in of {side * side:N0} demo.noop into one join: submit → {state} in {sw.Elapsed.TotalSeconds:0.0} s (the submit itself {submitted.TotalSeconds:0.0} s), process CPU {(Cpu() - cpu).TotalSeconds:0.0} s");
        if (StatementCounter is { } counted) System.Console.Write(await counted.StatementsAsync(side * side, top: 24));
    }

    /// <summary>The same no-op work without a DAG: what the engine itself costs per execution, for comparison.</summary>
    private static async Task IndependentAsync(BenchHost host, int count)
    {
        var executions = host.Get<ExecutionService>();
        var cpu = Cpu();
        var sw = Stopwatch.StartNew();
        var ids = new List<long>();
        for (var i = 0; i < count; i++) ids.Add((await executions.SubmitAsync(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" })).Id);
        var last = ids[^1];
        var store = host.Get<ExecutionStore>();
        while (true)
        {
            var pending = 0;
            foreach (var id in ids.TakeLast(50)) if (!(await store.FindAsync(id))!.State.IsTerminal()) pending++;
            if (pending == 0) break;
            await Task.Delay(5);
        }
        System.Console.WriteLine($"   for comparison, {count} independent demo.noop executions submitted one by one (no DAG): {sw.Elapsed.TotalMilliseconds:0} ms wall, process CPU {(Cpu() - cpu).TotalMilliseconds:0} ms");
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static TimeSpan Cpu() => Process.GetCurrentProcess().TotalProcessorTime;

    private static double Median(List<double> values) => Percentile(values, 50);

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }
}

/// <summary>
/// The Console's services (Core, Data, Hangfire) in a plain host, without the web front: on a fresh SQLite file, or on
/// the PostgreSQL database named (with Hangfire.PostgreSql on it, as a node in that mode runs).
/// </summary>
internal sealed class BenchHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _folder;

    private BenchHost(WebApplication app, string folder) { _app = app; _folder = folder; }

    public T Get<T>() where T : notnull => _app.Services.GetRequiredService<T>();

    public static async Task<BenchHost> StartAsync(bool workers, string? postgres = null, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var folder = Path.Combine(Path.GetTempPath(), "taskdeck-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder, EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Taskdeck"] = postgres ?? $"Data Source={Path.Combine(folder, "bench.db")}",
            ["Taskdeck:Storage:Provider"] = postgres is null ? "Sqlite" : "PostgreSql",
            ["Taskdeck:Demo:Enabled"] = "false",
            ["Taskdeck:Commands:Enabled"] = "true",
            ["Taskdeck:Commands:Allow:0"] = "/bin/echo",
            ["Taskdeck:Node:Roles"] = workers ? "Console,Workers" : "Console",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        if (settings is { Count: > 0 }) builder.Configuration.AddInMemoryCollection(settings);
        // A fresh database answers the first migration-history query with "no such table", which EF logs as an error.
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore.Database.Command", LogLevel.None);
        builder.Services.AddTaskdeckCore(builder.Configuration);
        builder.Services.AddTaskdeckAdapters();
        builder.Services.AddTaskdeckData(builder.Configuration, folder);
        builder.Services.AddTaskdeckHangfire(builder.Configuration);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        await app.StartAsync();
        return new BenchHost(app, folder);
    }

    /// <summary>The submit's parts timed one by one, through the same services the submit uses.</summary>
    public async Task<string> MeasureSubmitPartsAsync(JsonElement spec)
    {
        var dags = Get<DagService>();
        var sw = Stopwatch.StartNew();
        var plan = dags.Validate(spec);
        var validate = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        var runId = await Get<IDagStore>().CreateRunAsync("parts", spec.GetRawText(), "{}", true, DateTimeOffset.UtcNow);
        var run = sw.Elapsed.TotalMilliseconds;
        var children = plan.Edges.Select(e => e.Child).ToHashSet();
        var specs = plan.Tasks.Select(t => new NewExecution
        {
            Kind = t.Job.Handler is null ? ExecutorKind.Command : ExecutorKind.Handler,
            Name = t.Job.Handler ?? t.Job.Command[0], Command = t.Job.Handler is null ? t.Job.Command : [],
            DagRunId = runId, DagTaskName = t.Name, WaitForParents = children.Contains(t.Name),
        }).ToList();
        // The submit path, timed inside: inserts, then the edges (before any job exists), then the roots' Hangfire jobs.
        double insert = 0, edges = 0;
        sw.Restart();
        var stored = await Get<ExecutionService>().SubmitManyAsync(specs, async (rows, ct) =>
        {
            insert = sw.Elapsed.TotalMilliseconds;
            var ids = rows.Select((e, i) => (plan.Tasks[i].Name, e.Id)).ToDictionary(x => x.Name, x => x.Id);
            await Get<IDagStore>().AddEdgesAsync(runId, plan.Edges.Select(e => (ids[e.Parent], ids[e.Child])).ToList(), ct);
            edges = sw.Elapsed.TotalMilliseconds - insert;
        });
        var answered = sw.Elapsed.TotalMilliseconds;
        await BacklogDrainedAsync();
        var dispatch = sw.Elapsed.TotalMilliseconds - answered;
        var roots = stored.Count(e => e.State == ExecutionState.Queued);
        return $"validate {validate:0} ms · run row {run:0} ms · {stored.Count} execution inserts {insert:0} ms · {plan.Edges.Count} edges {edges:0} ms · " +
               $"rest of the submit {answered - insert - edges:0} ms · then, after the answer, {roots} roots' Hangfire jobs and job-id write-back {dispatch:0} ms";
    }

    /// <summary>Until the dispatch backlog has given every queued root its Hangfire job.</summary>
    public async Task BacklogDrainedAsync()
    {
        var backlog = Get<DispatchBacklog>();
        while (backlog.Pending > 0) await Task.Delay(1);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Npgsql.NpgsqlConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
