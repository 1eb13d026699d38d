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
        var byState = await CountByStateAsync(db, ct);
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

    public async Task<IReadOnlyDictionary<ExecutionState, int>> StatesNowAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await CountByStateAsync(db, ct);
    }

    /// <summary>Finished executions per bucket since <paramref name="since"/>; empty buckets included.</summary>
    public async Task<IReadOnlyList<ThroughputBucket>> ThroughputAsync(DateTimeOffset since, DateTimeOffset until, TimeSpan bucket, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var size = (long)bucket.TotalMicroseconds;
        var from = TaskdeckDbContext.ToMicros(since) / size * size;
        int ok = (int)ExecutionState.Succeeded, failed = (int)ExecutionState.Failed, timedOut = (int)ExecutionState.TimedOut, lost = (int)ExecutionState.Lost;
        // Integer division buckets the microsecond timestamps identically on SQLite, PostgreSQL and SQL Server.
        var rows = await db.Database.SqlQuery<BucketRow>($"""
            SELECT "FinishedAt" / {size} AS "Bucket", "State" AS "State", COUNT(*) AS "Count"
            FROM "Executions"
            WHERE "FinishedAt" >= {from} AND "State" IN ({ok}, {failed}, {timedOut}, {lost})
            GROUP BY "FinishedAt" / {size}, "State"
            """).ToListAsync(ct);
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

    /// <summary>p50/p95 of run time (start → finish) of succeeded executions per task, the busiest <paramref name="top"/> tasks.</summary>
    public async Task<IReadOnlyList<TaskDurations>> DurationsAsync(DateTimeOffset since, int top, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var sinceMicros = TaskdeckDbContext.ToMicros(since);
        var ok = (int)ExecutionState.Succeeded;
        var names = await db.Database.SqlQuery<NameCount>($"""
            SELECT "Name" AS "Name", COUNT(*) AS "Count" FROM "Executions"
            WHERE "State" = {ok} AND "FinishedAt" >= {sinceMicros} AND "StartedAt" IS NOT NULL
            GROUP BY "Name"
            """).ToListAsync(ct);
        var result = new List<TaskDurations>();
        foreach (var n in names.OrderByDescending(n => n.Count).ThenBy(n => n.Name).Take(top))
        {
            var p50 = await PercentileAsync(db, n.Name, sinceMicros, n.Count, 0.50, ct);
            var p95 = await PercentileAsync(db, n.Name, sinceMicros, n.Count, 0.95, ct);
            result.Add(new TaskDurations(n.Name, (int)n.Count, TimeSpan.FromMicroseconds(p50), TimeSpan.FromMicroseconds(p95)));
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
        var byState = await CountByStateAsync(db, ct);
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

    private static async Task<Dictionary<ExecutionState, int>> CountByStateAsync(TaskdeckDbContext db, CancellationToken ct) =>
        await db.Executions.AsNoTracking().GroupBy(e => e.State).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Key, g => g.Count, ct);

    private static async Task<(int Succeeded, int Failed)> FinishedSinceAsync(TaskdeckDbContext db, DateTimeOffset since, CancellationToken ct)
    {
        var rows = await db.Executions.AsNoTracking()
            .Where(e => e.FinishedAt >= since && (e.State == ExecutionState.Succeeded || FailedStates.Contains(e.State)))
            .GroupBy(e => e.State).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(ct);
        return (rows.Where(r => r.Key == ExecutionState.Succeeded).Sum(r => r.Count), rows.Where(r => r.Key != ExecutionState.Succeeded).Sum(r => r.Count));
    }

    private async Task<long> PercentileAsync(TaskdeckDbContext db, string name, long sinceMicros, long count, double fraction, CancellationToken ct)
    {
        var offset = (int)Math.Clamp(Math.Ceiling(count * fraction) - 1, 0, count - 1);
        var ok = (int)ExecutionState.Succeeded;
        var rows = database.Provider == StorageProvider.SqlServer
            ? db.Database.SqlQuery<long>($"""
                SELECT "FinishedAt" - "StartedAt" AS "Value" FROM "Executions"
                WHERE "Name" = {name} AND "State" = {ok} AND "FinishedAt" >= {sinceMicros} AND "StartedAt" IS NOT NULL
                ORDER BY 1 OFFSET {offset} ROWS FETCH NEXT 1 ROWS ONLY
                """)
            : db.Database.SqlQuery<long>($"""
                SELECT "FinishedAt" - "StartedAt" AS "Value" FROM "Executions"
                WHERE "Name" = {name} AND "State" = {ok} AND "FinishedAt" >= {sinceMicros} AND "StartedAt" IS NOT NULL
                ORDER BY 1 LIMIT 1 OFFSET {offset}
                """);
        return (await rows.ToListAsync(ct)).FirstOrDefault();
    }

    internal sealed class BucketRow
    {
        public long Bucket { get; set; }
        public int State { get; set; }
        public long Count { get; set; }
    }

    internal sealed class NameCount
    {
        public string Name { get; set; } = "";
        public long Count { get; set; }
    }
}
