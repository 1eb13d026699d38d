using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dashboard;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;

namespace Taskdeck.Bench.Console;

/// <summary>
/// The console's queries against an embedded (SQLite) database holding a million executions: the executions grid's
/// first page, filtered pages and every dashboard aggregate. Server time per call (median and p95 of 15 after 2 warm-ups),
/// and the plan SQLite chose for each statement, so BENCHMARKS.md can name the index.
/// </summary>
public static class ConsoleQueriesBench
{
    private static readonly string[] Names = ["report.daily", "etl.load", "etl.extract", "mail.send", "image.resize", "ml.score", "backup.db", "index.rebuild", "sync.crm", "cleanup"];
    private static readonly string[] Queues = ["default", "critical", "high", "low"];

    public static async Task<int> RunAsync(string[] args)
    {
        var rows = args.Length > 0 && int.TryParse(args[0], out var n) ? n : 1_000_000;
        var path = Path.Combine(Path.GetTempPath(), $"taskdeck-bench-console-{rows}.db");
        var commands = new CommandCapture();
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Taskdeck"] = $"Data Source={path}" }).Build();
        var services = new ServiceCollection()
            .AddLogging(b => b.AddProvider(commands).SetMinimumLevel(LogLevel.Information))
            .AddTaskdeckData(config, Path.GetTempPath())
            .BuildServiceProvider();
        var contexts = services.GetRequiredService<IDbContextFactory<TaskdeckDbContext>>();
        var now = DateTimeOffset.UtcNow;

        await using (var db = await contexts.CreateDbContextAsync())
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
            await db.Database.MigrateAsync();
            var existing = await db.Executions.CountAsync();
            if (existing != rows)
            {
                System.Console.WriteLine($"Seeding {rows:N0} executions into {path} …");
                var sw = Stopwatch.StartNew();
                await SeedAsync(path, rows, now);
                System.Console.WriteLine($"  seeded in {sw.Elapsed.TotalSeconds:0.0} s");
            }
            else
            {
                System.Console.WriteLine($"Reusing {path} ({existing:N0} executions); its newest rows are up to {(now - await NewestAsync(db)).TotalMinutes:0} min old.");
            }
        }

        var executions = services.GetRequiredService<ExecutionQueries>();
        var dashboard = services.GetRequiredService<DashboardQueries>();
        var newest = await NewestAsync(await contexts.CreateDbContextAsync());
        var anchor = newest; // aggregates are measured "as of" the newest row, so a reused file keeps its shape
        var cases = new (string Name, Func<Task> Run)[]
        {
            ("grid: first page, newest first, with total", () => executions.PageAsync(new ExecutionFilter(), ExecutionSort.Newest, false, 0, 25, true)),
            ("grid: state=Failed, task=report.daily", () => executions.PageAsync(new ExecutionFilter { States = [ExecutionState.Failed], Name = "report.daily" }, ExecutionSort.Newest, false, 0, 25, true)),
            ("grid: queue=critical, created in last hour", () => executions.PageAsync(new ExecutionFilter { Queue = "critical", CreatedFrom = anchor.AddHours(-1) }, ExecutionSort.Newest, false, 0, 25, true)),
            ("grid: state=Queued, oldest first", () => executions.PageAsync(new ExecutionFilter { States = [ExecutionState.Queued] }, ExecutionSort.Oldest, false, 0, 25, true)),
            ("dashboard: cards and donut (live states, 1 h / 24 h outcomes, oldest queued)", () => dashboard.SummaryAsync(anchor, TimeSpan.FromSeconds(30))),
            ("dashboard: throughput, last hour per minute", () => dashboard.ThroughputAsync(anchor.AddHours(-1), anchor, TimeSpan.FromMinutes(1))),
            ("dashboard: throughput, 24 h per 15 min", () => dashboard.ThroughputAsync(anchor.AddHours(-24), anchor, TimeSpan.FromMinutes(15))),
            ("dashboard: p50/p95 per task, 24 h (top 8)", () => dashboard.DurationsAsync(anchor.AddHours(-24), 8)),
            ("dashboard: queue samples, 24 h", () => dashboard.QueueSamplesAsync(anchor.AddHours(-24))),
        };

        System.Console.WriteLine();
        System.Console.WriteLine("| query | median ms | p95 ms | SQLite plan |");
        System.Console.WriteLine("|---|---:|---:|---|");
        foreach (var (name, run) in cases)
        {
            for (var i = 0; i < 2; i++) await run();
            commands.Clear();
            await run();
            var statements = commands.Take();
            var times = new List<double>();
            for (var i = 0; i < 15; i++)
            {
                var sw = Stopwatch.StartNew();
                await run();
                times.Add(sw.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            var plans = new List<string>();
            foreach (var sql in statements) plans.Add(await PlanAsync(path, sql));
            System.Console.WriteLine($"| {name} | {times[times.Count / 2]:0.0} | {times[(int)(times.Count * 0.95)]:0.0} | {string.Join("<br>", plans.Distinct())} |");
        }
        return 0;
    }

    private static async Task<DateTimeOffset> NewestAsync(TaskdeckDbContext db) =>
        await db.Executions.OrderByDescending(e => e.Id).Select(e => e.CreatedAt).FirstAsync();

    /// <summary>Seven days of history, newest last: mostly succeeded, some failures, a few waiting or running.</summary>
    private static async Task SeedAsync(string path, int rows, DateTimeOffset now)
    {
        await using var connection = new SqliteConnection($"Data Source={path}");
        await connection.OpenAsync();
        await using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; DELETE FROM \"Executions\"; DELETE FROM \"MetricSamples\";";
            await pragma.ExecuteNonQueryAsync();
        }
        var random = new Random(42);
        var start = now.AddDays(-7);
        var step = TimeSpan.FromDays(7).Ticks / rows;
        const int batch = 50_000;
        for (var offset = 0; offset < rows; offset += batch)
        {
            await using var tx = connection.BeginTransaction();
            await using var insert = connection.CreateCommand();
            insert.Transaction = tx;
            insert.CommandText = """
                INSERT INTO "Executions" ("TaskId","Kind","Name","Command","Environment","Queue","Priority","State","AttemptCount","MaxRetries",
                  "RetryIntervalSeconds","ExponentialBackoff","RetryPolicy","CreatedAt","UpdatedAt","StartedAt","FinishedAt","Tags","TagsText",
                  "IsGenerator","Cores","MemoryMB","Gpus","NodeId","ErrorMessage")
                VALUES ($taskId,0,$name,'[]','[]',$queue,$priority,$state,$attempts,0,0,0,0,$created,$updated,$started,$finished,$tags,$tagsText,0,0,0,0,$node,$error)
                """;
            var p = new Dictionary<string, SqliteParameter>();
            foreach (var name in new[] { "$taskId", "$name", "$queue", "$priority", "$state", "$attempts", "$created", "$updated", "$started", "$finished", "$tags", "$tagsText", "$node", "$error" })
                p[name] = insert.Parameters.Add(new SqliteParameter { ParameterName = name });
            await insert.PrepareAsync();
            for (var i = offset; i < Math.Min(rows, offset + batch); i++)
            {
                var created = start.AddTicks(step * i);
                var roll = random.NextDouble();
                // The newest 0.5 % are still waiting or running; the rest finished.
                var state = i >= rows * 0.995 ? (roll < 0.6 ? ExecutionState.Queued : roll < 0.8 ? ExecutionState.Running : ExecutionState.Pending)
                    : roll < 0.88 ? ExecutionState.Succeeded : roll < 0.96 ? ExecutionState.Failed : roll < 0.98 ? ExecutionState.TimedOut : ExecutionState.Cancelled;
                var started = state is ExecutionState.Queued or ExecutionState.Pending ? (DateTimeOffset?)null : created.AddMilliseconds(random.Next(5, 2000));
                var finished = state.IsTerminal() ? started!.Value.AddMilliseconds(random.Next(50, 120_000)) : (DateTimeOffset?)null;
                var tag = i % 7 == 0 ? "nightly" : i % 11 == 0 ? "adhoc" : null;
                p["$taskId"].Value = Guid.NewGuid().ToString();
                p["$name"].Value = Names[i % Names.Length];
                p["$queue"].Value = Queues[(i / 3) % Queues.Length];
                p["$priority"].Value = (i % 5) - 2;
                p["$state"].Value = (int)state;
                p["$attempts"].Value = started is null ? 0 : 1;
                p["$created"].Value = TaskdeckDbContext.ToMicros(created);
                p["$updated"].Value = TaskdeckDbContext.ToMicros(finished ?? started ?? created);
                p["$started"].Value = started is { } s ? TaskdeckDbContext.ToMicros(s) : DBNull.Value;
                p["$finished"].Value = finished is { } f ? TaskdeckDbContext.ToMicros(f) : DBNull.Value;
                p["$tags"].Value = tag is null ? "[]" : $"[\"{tag}\"]";
                p["$tagsText"].Value = tag is null ? "|" : $"|{tag}|";
                p["$node"].Value = started is null ? DBNull.Value : "bench-node";
                p["$error"].Value = state is ExecutionState.Failed ? "InvalidOperationException: bench failure" : DBNull.Value;
                await insert.ExecuteNonQueryAsync();
            }
            await tx.CommitAsync();
        }
        // One queue sample a minute for the last day, as the sampler writes them.
        await using (var tx = connection.BeginTransaction())
        {
            await using var sample = connection.CreateCommand();
            sample.Transaction = tx;
            sample.CommandText = "INSERT INTO \"MetricSamples\" (\"At\",\"Queued\",\"Running\",\"Waiting\") VALUES ($at,$q,$r,$w)";
            var at = sample.Parameters.Add(new SqliteParameter { ParameterName = "$at" });
            var q = sample.Parameters.Add(new SqliteParameter { ParameterName = "$q" });
            var r = sample.Parameters.Add(new SqliteParameter { ParameterName = "$r" });
            var w = sample.Parameters.Add(new SqliteParameter { ParameterName = "$w" });
            for (var m = 24 * 60; m >= 0; m--)
            {
                at.Value = TaskdeckDbContext.ToMicros(now.AddMinutes(-m));
                q.Value = random.Next(0, 500); r.Value = random.Next(0, 40); w.Value = random.Next(0, 50);
                await sample.ExecuteNonQueryAsync();
            }
            await tx.CommitAsync();
        }
    }

    private static async Task<string> PlanAsync(string path, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly");
        await connection.OpenAsync();
        await using var explain = connection.CreateCommand();
        explain.CommandText = "EXPLAIN QUERY PLAN " + sql;
        var steps = new List<string>();
        try
        {
            await using var reader = await explain.ExecuteReaderAsync();
            while (await reader.ReadAsync()) steps.Add(reader.GetString(3));
        }
        catch (SqliteException e) { steps.Add("(plan unavailable: " + e.Message + ")"); }
        return string.Join("; ", steps).Replace("|", "/");
    }

    /// <summary>Collects the SQL EF executes (its "Executed DbCommand" log) so each case's plan can be asked for.</summary>
    private sealed class CommandCapture : ILoggerProvider, ILogger
    {
        private readonly List<string> _commands = [];

        public ILogger CreateLogger(string categoryName) => categoryName == "Microsoft.EntityFrameworkCore.Database.Command" ? this : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (state is not IReadOnlyList<KeyValuePair<string, object?>> values) return;
            var text = values.FirstOrDefault(v => v.Key == "commandText").Value as string;
            if (text is not null) lock (_commands) _commands.Add(text);
        }

        public void Clear() { lock (_commands) _commands.Clear(); }
        public List<string> Take() { lock (_commands) { var all = _commands.ToList(); _commands.Clear(); return all; } }
        public void Dispose() { }
    }
}
