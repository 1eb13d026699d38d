using Microsoft.EntityFrameworkCore;
using Taskdeck.Core;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Dashboard;

public sealed record DashboardCounts(
    int Queued, int Waiting, int Running, int SucceededLastHour, int FailedLastHour, int Succeeded24h, int Failed24h,
    int LiveWorkers, DateTimeOffset? OldestQueuedAt);

/// <summary>One bucket of the throughput chart: finished executions per outcome.</summary>
public sealed record ThroughputBucket(DateTimeOffset Start, int Succeeded, int Failed);

public sealed record TaskDurations(string Name, int Count, TimeSpan P50, TimeSpan P95);

/// <summary>
/// The dashboard's aggregates, computed by the database over indexes: counts over (State, Id), finished work over
/// (FinishedAt, State), durations over (Name, State). No query here loads execution rows into memory.
/// </summary>
public sealed class DashboardQueries(IDbContextFactory<TaskdeckDbContext> contexts, TaskdeckDatabase database)
{
    /// <summary>Outcomes counted as failures on the dashboard.</summary>
    public static readonly IReadOnlyList<ExecutionState> FailedStates = [ExecutionState.Failed, ExecutionState.TimedOut, ExecutionState.Lost];

    public async Task<DashboardCounts> CountsAsync(DateTimeOffset now, TimeSpan leaseExpiry, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var byState = await LiveCountsAsync(db, ct);
        var hour = await FinishedSinceAsync(db, now.AddHours(-1), ct);
        var day = await FinishedSinceAsync(db, now.AddHours(-24), ct);
        var cutoff = now - leaseExpiry;
        var workers = await db.WorkerNodes.AsNoTracking().CountAsync(n => n.HeartbeatAt >= cutoff && n.StoppedAt == null, ct);
        // The oldest queued record is the one with the smallest id in state Queued: a seek on (State, Id).
        var oldest = await db.Executions.AsNoTracking().Where(e => e.State == ExecutionState.Queued)
            .OrderBy(e => e.Id).Select(e => (DateTimeOffset?)e.CreatedAt).FirstOrDefaultAsync(ct);
        int Count(params ExecutionState[] states) => states.Sum(s => byState.GetValueOrDefault(s));
        return new DashboardCounts(
            Count(ExecutionState.Queued), Count(ExecutionState.Pending, ExecutionState.Scheduled), Count(ExecutionState.Running, ExecutionState.Cancelling),
            hour.Succeeded, hour.Failed, day.Succeeded, day.Failed, workers, oldest);
    }

    /// <summary>
    /// The live states (waiting, running) as they are now, and the outcomes of what finished since
    /// <paramref name="finishedSince"/>: two index ranges, so the donut never counts the whole history.
    /// </summary>
    public async Task<IReadOnlyDictionary<ExecutionState, int>> StatesNowAsync(DateTimeOffset finishedSince, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var states = await LiveCountsAsync(db, ct);
        foreach (var (state, count) in await FinishedByStateAsync(db, finishedSince, ct)) states[state] = count;
        return states;
    }

    /// <summary>Finished executions per bucket since <paramref name="since"/>; empty buckets included.</summary>
    public async Task<IReadOnlyList<ThroughputBucket>> ThroughputAsync(DateTimeOffset since, DateTimeOffset until, TimeSpan bucket, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var size = (long)bucket.TotalMicroseconds;
        var from = TaskdeckDbContext.ToMicros(since) / size * size;
        int ok = (int)ExecutionState.Succeeded, failed = (int)ExecutionState.Failed, timedOut = (int)ExecutionState.TimedOut, lost = (int)ExecutionState.Lost;
        // Integer division buckets the microsecond timestamps identically on SQLite, PostgreSQL and SQL Server. Only
        // FinishedAt is filtered so the (FinishedAt, State) index covers the query; the outcomes are picked below.
        var rows = (await db.Database.SqlQuery<BucketRow>($"""
            SELECT "FinishedAt" / {size} AS "Bucket", "State" AS "State", COUNT(*) AS "Count"
            FROM "Executions"
            WHERE "FinishedAt" >= {from}
            GROUP BY "FinishedAt" / {size}, "State"
            """).ToListAsync(ct)).Where(r => r.State == ok || r.State == failed || r.State == timedOut || r.State == lost).ToList();
        var buckets = new List<ThroughputBucket>();
        var first = from / size;
        var last = TaskdeckDbContext.ToMicros(until) / size;
        var byBucket = rows.GroupBy(r => r.Bucket).ToDictionary(g => g.Key, g => g.ToList());
        for (var b = first; b <= last; b++)
        {
            var items = byBucket.GetValueOrDefault(b) ?? [];
            buckets.Add(new ThroughputBucket(TaskdeckDbContext.FromMicros(b * size),
                (int)items.Where(r => r.State == ok).Sum(r => r.Count),
                (int)items.Where(r => r.State != ok).Sum(r => r.Count)));
        }
        return buckets;
    }

    /// <summary>How many recent runs of a task its percentiles are taken over.</summary>
    public const int DurationSample = 1000;

    /// <summary>
    /// p50/p95 of run time (start → finish) of the busiest <paramref name="top"/> tasks since <paramref name="since"/>,
    /// each over its latest <see cref="DurationSample"/> succeeded runs. The busiest tasks are found among the latest
    /// 5,000 finished executions (a backwards walk of the (FinishedAt, State) index); each percentile is one ordered
    /// pick over a bounded walk of (Name, State, Id). All of it runs in the database.
    /// </summary>
    public async Task<IReadOnlyList<TaskDurations>> DurationsAsync(DateTimeOffset since, int top, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var sinceMicros = TaskdeckDbContext.ToMicros(since);
        var ok = (int)ExecutionState.Succeeded;
        var sqlServer = database.Provider == StorageProvider.SqlServer;
        var names = sqlServer
            ? await db.Database.SqlQuery<NameCount>($"""
                SELECT TOP ({top}) "Name" AS "Name", COUNT(*) AS "Count" FROM (
                  SELECT TOP (5000) "Name", "State" FROM "Executions" WHERE "FinishedAt" >= {sinceMicros} ORDER BY "FinishedAt" DESC) AS "r"
                WHERE "State" = {ok} GROUP BY "Name" ORDER BY COUNT(*) DESC, "Name"
                """).ToListAsync(ct)
            : await db.Database.SqlQuery<NameCount>($"""
                SELECT "Name" AS "Name", COUNT(*) AS "Count" FROM (
                  SELECT "Name", "State" FROM "Executions" WHERE "FinishedAt" >= {sinceMicros} ORDER BY "FinishedAt" DESC LIMIT 5000) AS "r"
                WHERE "State" = {ok} GROUP BY "Name" ORDER BY COUNT(*) DESC, "Name" LIMIT {top}
                """).ToListAsync(ct);
        var result = new List<TaskDurations>();
        foreach (var n in names)
        {
            var count = (int)(sqlServer
                ? (await db.Database.SqlQuery<long>($"""
                    SELECT COUNT(*) AS "Value" FROM (SELECT TOP ({DurationSample}) "Id" FROM "Executions"
                      WHERE "Name" = {n.Name} AND "State" = {ok} AND "FinishedAt" >= {sinceMicros} AND "StartedAt" IS NOT NULL ORDER BY "Id" DESC) AS "s"
                    """).ToListAsync(ct)).FirstOrDefault()
                : (await db.Database.SqlQuery<long>($"""
                    SELECT COUNT(*) AS "Value" FROM (SELECT "Id" FROM "Executions"
                      WHERE "Name" = {n.Name} AND "State" = {ok} AND "FinishedAt" >= {sinceMicros} AND "StartedAt" IS NOT NULL ORDER BY "Id" DESC LIMIT {DurationSample}) AS "s"
                    """).ToListAsync(ct)).FirstOrDefault());
            if (count == 0) continue;
            var p50 = await PercentileAsync(db, n.Name, sinceMicros, count, 0.50, sqlServer, ct);
            var p95 = await PercentileAsync(db, n.Name, sinceMicros, count, 0.95, sqlServer, ct);
            result.Add(new TaskDurations(n.Name, count, TimeSpan.FromMicroseconds(p50), TimeSpan.FromMicroseconds(p95)));
        }
        return result;
    }

    public async Task<IReadOnlyList<MetricSample>> QueueSamplesAsync(DateTimeOffset since, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.MetricSamples.AsNoTracking().Where(s => s.At >= since).OrderBy(s => s.At).ToListAsync(ct);
    }

    /// <summary>Writes one queue-length sample (the sampler calls it once a minute).</summary>
    public async Task RecordSampleAsync(DateTimeOffset at, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var byState = await LiveCountsAsync(db, ct);
        var micros = TaskdeckDbContext.ToMicros(at);
        // One row per instant; a second sample in the same microsecond (two nodes) is simply skipped.
        if (await db.MetricSamples.AnyAsync(s => s.At == at, ct)) return;
        db.MetricSamples.Add(new MetricSample
        {
            At = TaskdeckDbContext.FromMicros(micros),
            Queued = byState.GetValueOrDefault(ExecutionState.Queued),
            Running = byState.GetValueOrDefault(ExecutionState.Running) + byState.GetValueOrDefault(ExecutionState.Cancelling),
            Waiting = byState.GetValueOrDefault(ExecutionState.Pending) + byState.GetValueOrDefault(ExecutionState.Scheduled),
        });
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Only the small, live states: a range of the (State, Id) index, never a scan of the finished history.</summary>
    private static async Task<Dictionary<ExecutionState, int>> LiveCountsAsync(TaskdeckDbContext db, CancellationToken ct)
    {
        var live = new[] { ExecutionState.Pending, ExecutionState.Scheduled, ExecutionState.Queued, ExecutionState.Running, ExecutionState.Cancelling };
        return await db.Executions.AsNoTracking().Where(e => live.Contains(e.State))
            .GroupBy(e => e.State).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count, ct);
    }

    private static async Task<(int Succeeded, int Failed)> FinishedSinceAsync(TaskdeckDbContext db, DateTimeOffset since, CancellationToken ct)
    {
        var byState = await FinishedByStateAsync(db, since, ct);
        return (byState.GetValueOrDefault(ExecutionState.Succeeded), FailedStates.Sum(s => byState.GetValueOrDefault(s)));
    }

    /// <summary>
    /// Finished executions per outcome since an instant: a range of the covering (FinishedAt, State) index. Grouping by
    /// <c>"State" + 0</c> keeps the planner from walking the (State, Id) index for the grouping instead (it would visit
    /// every row of the table to test FinishedAt).
    /// </summary>
    private static async Task<Dictionary<ExecutionState, int>> FinishedByStateAsync(TaskdeckDbContext db, DateTimeOffset since, CancellationToken ct)
    {
        var from = TaskdeckDbContext.ToMicros(since);
        var rows = await db.Database.SqlQuery<StateCount>($"""
            SELECT "State" + 0 AS "State", COUNT(*) AS "Count" FROM "Executions"
            WHERE "FinishedAt" >= {from}
            GROUP BY "State" + 0
            """).ToListAsync(ct);
        return rows.ToDictionary(r => (ExecutionState)r.State, r => (int)r.Count);
    }

    private static async Task<long> PercentileAsync(TaskdeckDbContext db, string name, long sinceMicros, int count, double fraction, bool sqlServer, CancellationToken ct)
    {
        var offset = (int)Math.Clamp(Math.Ceiling(count * fraction) - 1, 0, count - 1);
        var ok = (int)ExecutionState.Succeeded;
        var rows = sqlServer
            ? db.Database.SqlQuery<long>($"""
                SELECT "d" AS "Value" FROM (SELECT TOP ({DurationSample}) "FinishedAt" - "StartedAt" AS "d" FROM "Executions"
                  WHERE "Name" = {name} AND "State" = {ok} AND "FinishedAt" >= {sinceMicros} AND "StartedAt" IS NOT NULL ORDER BY "Id" DESC) AS "s"
                ORDER BY "d" OFFSET {offset} ROWS FETCH NEXT 1 ROWS ONLY
                """)
            : db.Database.SqlQuery<long>($"""
                SELECT "d" AS "Value" FROM (SELECT "FinishedAt" - "StartedAt" AS "d" FROM "Executions"
                  WHERE "Name" = {name} AND "State" = {ok} AND "FinishedAt" >= {sinceMicros} AND "StartedAt" IS NOT NULL ORDER BY "Id" DESC LIMIT {DurationSample}) AS "s"
                ORDER BY "d" LIMIT 1 OFFSET {offset}
                """);
        return (await rows.ToListAsync(ct)).FirstOrDefault();
    }

    internal sealed class BucketRow
    {
        public long Bucket { get; set; }
        public int State { get; set; }
        public long Count { get; set; }
    }

    internal sealed class StateCount
    {
        public int State { get; set; }
        public long Count { get; set; }
    }

    internal sealed class NameCount
    {
        public string Name { get; set; } = "";
        public long Count { get; set; }
    }
}
