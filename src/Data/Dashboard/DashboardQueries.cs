using Microsoft.EntityFrameworkCore;
using Taskdeck.Core;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Storage;
using static Taskdeck.Data.Storage.Schema;

namespace Taskdeck.Data.Dashboard;

public sealed record DashboardCounts(
    int Queued, int Waiting, int Running, int SucceededLastHour, int FailedLastHour, int Succeeded24h, int Failed24h,
    int LiveWorkers, DateTimeOffset? OldestQueuedAt);

/// <summary>The dashboard's cards and its donut (the live states and the last 24 hours' outcomes), read together.</summary>
public sealed record DashboardSummary(DashboardCounts Counts, IReadOnlyDictionary<ExecutionState, int> States);

/// <summary>Finished executions per outcome over the last hour and over the last 24 hours.</summary>
public sealed record FinishedOutcomes(IReadOnlyDictionary<ExecutionState, int> Hour, IReadOnlyDictionary<ExecutionState, int> Day)
{
    /// <summary>
    /// These outcomes a little later: plus what finished since (<paramref name="added"/>), minus what finished in the
    /// slices of time that have since left the hour's and the day's windows.
    /// </summary>
    public FinishedOutcomes Moved(IReadOnlyDictionary<ExecutionState, int> added, IReadOnlyDictionary<ExecutionState, int> leftHour, IReadOnlyDictionary<ExecutionState, int> leftDay) =>
        new(Sum(Hour, added, leftHour), Sum(Day, added, leftDay));

    private static Dictionary<ExecutionState, int> Sum(IReadOnlyDictionary<ExecutionState, int> known, IReadOnlyDictionary<ExecutionState, int> plus, IReadOnlyDictionary<ExecutionState, int> minus) =>
        known.Keys.Union(plus.Keys).Union(minus.Keys).ToDictionary(s => s, s => known.GetValueOrDefault(s) + plus.GetValueOrDefault(s) - minus.GetValueOrDefault(s));
}

/// <summary>One bucket of the throughput chart: finished executions per outcome.</summary>
public sealed record ThroughputBucket(DateTimeOffset Start, int Succeeded, int Failed);

public sealed record TaskDurations(string Name, int Count, TimeSpan P50, TimeSpan P95);

/// <summary>
/// The dashboard's aggregates, computed by the database over indexes: counts over (State, Id), finished work over
/// (FinishedAt, State), durations over (Name, State). No query here loads execution rows into memory.
/// </summary>
public sealed class DashboardQueries(IDbContextFactory<TaskdeckDbContext> contexts, TaskdeckDatabase database, WriteGate gate)
{
    /// <summary>Outcomes counted as failures on the dashboard.</summary>
    public static readonly IReadOnlyList<ExecutionState> FailedStates = [ExecutionState.Failed, ExecutionState.TimedOut, ExecutionState.Lost];

    /// <summary>
    /// The cards' counts and the donut's states — the live states (waiting, running) as they are now and the outcomes of
    /// the last 24 hours, so the donut never counts the whole history — read now.
    /// </summary>
    public async Task<DashboardSummary> SummaryAsync(DateTimeOffset now, TimeSpan leaseExpiry, CancellationToken ct = default)
    {
        var finished = new FinishedOutcomes(await FinishedBetweenAsync(now.AddHours(-1), null, ct), await FinishedBetweenAsync(now.AddHours(-24), null, ct));
        return await SummaryAsync(finished, now, leaseExpiry, ct);
    }

    /// <summary>The cards and the donut from the last hour's and day's outcomes as the caller knows them, and the live states read now.</summary>
    public async Task<DashboardSummary> SummaryAsync(FinishedOutcomes finished, DateTimeOffset now, TimeSpan leaseExpiry, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var byState = await LiveCountsAsync(db, ct);
        var hour = Outcome(finished.Hour);
        var day = Outcome(finished.Day);
        var cutoff = now - leaseExpiry;
        var workers = await db.WorkerNodes.AsNoTracking().CountAsync(n => n.HeartbeatAt >= cutoff && n.StoppedAt == null, ct);
        // The oldest queued record is the one with the smallest id in state Queued: a seek on (State, Id).
        var oldest = await db.Executions.AsNoTracking().Where(e => e.State == ExecutionState.Queued)
            .OrderBy(e => e.Id).Select(e => (DateTimeOffset?)e.CreatedAt).FirstOrDefaultAsync(ct);
        int Count(params ExecutionState[] states) => states.Sum(s => byState.GetValueOrDefault(s));
        var counts = new DashboardCounts(
            Count(ExecutionState.Queued), Count(ExecutionState.Pending, ExecutionState.Scheduled), Count(ExecutionState.Running, ExecutionState.Cancelling),
            hour.Succeeded, hour.Failed, day.Succeeded, day.Failed, workers, oldest);
        foreach (var (state, count) in finished.Day) byState[state] = count;
        return new DashboardSummary(counts, byState);
    }

    /// <summary>
    /// Executions that finished in [<paramref name="from"/>, <paramref name="until"/>) (no end when null), per outcome: one
    /// pass over a range of the covering (FinishedAt, State) index with a conditional sum per outcome (no GROUP BY, so no
    /// sorter over the range).
    /// </summary>
    public async Task<IReadOnlyDictionary<ExecutionState, int>> FinishedBetweenAsync(DateTimeOffset from, DateTimeOffset? until, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return (await OutcomesAsync(db, TaskdeckDbContext.ToMicros(from), until is { } end ? TaskdeckDbContext.ToMicros(end) : long.MaxValue, ct)).ToDictionary();
    }

    /// <summary>The start of the bucket <paramref name="at"/> falls in: buckets are whole <paramref name="bucket"/>s since the epoch.</summary>
    public static DateTimeOffset BucketStart(DateTimeOffset at, TimeSpan bucket) =>
        TaskdeckDbContext.FromMicros(TaskdeckDbContext.ToMicros(at) / (long)bucket.TotalMicroseconds * (long)bucket.TotalMicroseconds);

    /// <summary>Finished executions per bucket (<see cref="BucketStart"/>) since <paramref name="since"/>; empty buckets included.</summary>
    public async Task<IReadOnlyList<ThroughputBucket>> ThroughputAsync(DateTimeOffset since, DateTimeOffset until, TimeSpan bucket, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var size = (long)bucket.TotalMicroseconds;
        var first = TaskdeckDbContext.ToMicros(BucketStart(since, bucket)) / size;
        var last = TaskdeckDbContext.ToMicros(BucketStart(until, bucket)) / size;
        // One aggregate per bucket over its slice of the (FinishedAt, State) index: the slices are walked in order and
        // nothing is sorted, where one GROUP BY over the whole range would sort every row of it.
        var buckets = new List<ThroughputBucket>((int)(last - first + 1));
        for (var b = first; b <= last; b++)
        {
            var outcomes = await OutcomesAsync(db, b * size, (b + 1) * size, ct);
            buckets.Add(new ThroughputBucket(TaskdeckDbContext.FromMicros(b * size),
                outcomes.Where(o => o.Key == ExecutionState.Succeeded).Sum(o => o.Value),
                outcomes.Where(o => FailedStates.Contains(o.Key)).Sum(o => o.Value)));
        }
        return buckets;
    }

    /// <summary>How many recent runs of a task its percentiles are taken over.</summary>
    public const int DurationSample = 1000;

    /// <summary>
    /// p50/p95 of run time (start → finish) of the busiest <paramref name="top"/> tasks since <paramref name="since"/>,
    /// each over its latest <see cref="DurationSample"/> succeeded runs. The busiest tasks are found among the latest
    /// 5,000 finished executions (a backwards walk of the (FinishedAt, State) index); both percentiles are one ranked
    /// pick over a bounded walk of (Name, State, Id). All of it runs in the database.
    /// </summary>
    public async Task<IReadOnlyList<TaskDurations>> DurationsAsync(DateTimeOffset since, int top, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var sinceMicros = TaskdeckDbContext.ToMicros(since);
        var sqlServer = database.Provider == StorageProvider.SqlServer;
        var names = await db.Database.SqlQueryRaw<NameCount>(sqlServer ? BusiestSqlServer : Busiest, sinceMicros, top).ToListAsync(ct);
        var result = new List<TaskDurations>();
        foreach (var n in names)
        {
            var picks = await db.Database.SqlQueryRaw<RankedDuration>(sqlServer ? PercentilesSqlServer : Percentiles, n.Name, sinceMicros).ToListAsync(ct);
            if (picks.Count == 0) continue;
            var count = picks[0].Count;
            long At(long percent) => picks.First(p => p.Rank == (count * percent + 99) / 100).Duration;
            result.Add(new TaskDurations(n.Name, (int)count, TimeSpan.FromMicroseconds(At(50)), TimeSpan.FromMicroseconds(At(95))));
        }
        return result;
    }

    // The hand-written statements name tables and columns from Schema. {0}, {1}: values bound by SqlQueryRaw. The names in
    // quotes that are not Schema's are a result's properties ("Name", "Count", "Rank", "Duration") or a derived table's.
    private const int Ok = (int)ExecutionState.Succeeded;

    // The busiest tasks among the latest 5,000 finished executions: {0} since (µs), {1} how many.
    private static readonly string Busiest = $$"""
        SELECT {{ExecutionColumns.Name}} AS "Name", COUNT(*) AS "Count" FROM (
          SELECT {{ExecutionColumns.Name}}, {{ExecutionColumns.State}} FROM {{ExecutionColumns.Table}} WHERE {{ExecutionColumns.FinishedAt}} >= {0}
          ORDER BY {{ExecutionColumns.FinishedAt}} DESC LIMIT 5000) AS "r"
        WHERE {{ExecutionColumns.State}} = {{Ok}} GROUP BY {{ExecutionColumns.Name}} ORDER BY COUNT(*) DESC, {{ExecutionColumns.Name}} LIMIT {1}
        """;

    private static readonly string BusiestSqlServer = $$"""
        SELECT TOP ({1}) {{ExecutionColumns.Name}} AS "Name", COUNT(*) AS "Count" FROM (
          SELECT TOP (5000) {{ExecutionColumns.Name}}, {{ExecutionColumns.State}} FROM {{ExecutionColumns.Table}} WHERE {{ExecutionColumns.FinishedAt}} >= {0}
          ORDER BY {{ExecutionColumns.FinishedAt}} DESC) AS "r"
        WHERE {{ExecutionColumns.State}} = {{Ok}} GROUP BY {{ExecutionColumns.Name}} ORDER BY COUNT(*) DESC, {{ExecutionColumns.Name}}
        """;

    // Nearest-rank percentiles over a task's latest runs, picked by ROW_NUMBER in one statement: ceil(n·p) written as integer
    // arithmetic, (n·50 + 99) / 100 and (n·95 + 99) / 100, so every provider agrees. {0} the task, {1} since (µs).
    private static readonly string PercentilesOver = $$"""
        WHERE {{ExecutionColumns.Name}} = {0} AND {{ExecutionColumns.State}} = {{Ok}} AND {{ExecutionColumns.FinishedAt}} >= {1} AND {{ExecutionColumns.StartedAt}} IS NOT NULL
        ORDER BY {{ExecutionColumns.Id}} DESC
        """;

    private static readonly string Percentiles = $$"""
        SELECT "rn" AS "Rank", "n" AS "Count", "d" AS "Duration" FROM (
          SELECT "d", ROW_NUMBER() OVER (ORDER BY "d") AS "rn", COUNT(*) OVER () AS "n" FROM (
            SELECT {{ExecutionColumns.FinishedAt}} - {{ExecutionColumns.StartedAt}} AS "d" FROM {{ExecutionColumns.Table}}
            {{PercentilesOver}} LIMIT {{DurationSample}}) AS "s") AS "r"
        WHERE "rn" = ("n" * 50 + 99) / 100 OR "rn" = ("n" * 95 + 99) / 100
        """;

    private static readonly string PercentilesSqlServer = $$"""
        SELECT "rn" AS "Rank", "n" AS "Count", "d" AS "Duration" FROM (
          SELECT "d", ROW_NUMBER() OVER (ORDER BY "d") AS "rn", COUNT(*) OVER () AS "n" FROM (
            SELECT TOP ({{DurationSample}}) {{ExecutionColumns.FinishedAt}} - {{ExecutionColumns.StartedAt}} AS "d" FROM {{ExecutionColumns.Table}}
            {{PercentilesOver}}) AS "s") AS "r"
        WHERE "rn" = ("n" * 50 + 99) / 100 OR "rn" = ("n" * 95 + 99) / 100
        """;

    public async Task<IReadOnlyList<MetricSample>> QueueSamplesAsync(DateTimeOffset since, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.MetricSamples.AsNoTracking().Where(s => s.At >= since).OrderBy(s => s.At).ToListAsync(ct);
    }

    /// <summary>Writes one queue-length sample (the sampler calls it once a minute).</summary>
    public async Task RecordSampleAsync(DateTimeOffset at, CancellationToken ct = default)
    {
        using var turn = await gate.EnterAsync(ct);
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

    private static (int Succeeded, int Failed) Outcome(IReadOnlyDictionary<ExecutionState, int> byState) =>
        (byState.GetValueOrDefault(ExecutionState.Succeeded), FailedStates.Sum(s => byState.GetValueOrDefault(s)));

    private static async Task<IReadOnlyList<KeyValuePair<ExecutionState, int>>> OutcomesAsync(TaskdeckDbContext db, long fromMicros, long toMicros, CancellationToken ct)
    {
        var row = (await db.Database.SqlQueryRaw<OutcomeRow>(Outcomes, fromMicros, toMicros).ToListAsync(ct)).Single();
        return
        [
            new(ExecutionState.Succeeded, (int)row.Succeeded), new(ExecutionState.Failed, (int)row.Failed), new(ExecutionState.TimedOut, (int)row.TimedOut),
            new(ExecutionState.Cancelled, (int)row.Cancelled), new(ExecutionState.Lost, (int)row.Lost), new(ExecutionState.Expired, (int)row.Expired),
        ];
    }

    // Finished executions per outcome in [{0}, {1}) (µs).
    private static readonly string Outcomes = $$"""
        SELECT
          COALESCE(SUM(CASE WHEN {{ExecutionColumns.State}} = {{(int)ExecutionState.Succeeded}} THEN 1 ELSE 0 END), 0) AS "Succeeded",
          COALESCE(SUM(CASE WHEN {{ExecutionColumns.State}} = {{(int)ExecutionState.Failed}} THEN 1 ELSE 0 END), 0) AS "Failed",
          COALESCE(SUM(CASE WHEN {{ExecutionColumns.State}} = {{(int)ExecutionState.TimedOut}} THEN 1 ELSE 0 END), 0) AS "TimedOut",
          COALESCE(SUM(CASE WHEN {{ExecutionColumns.State}} = {{(int)ExecutionState.Cancelled}} THEN 1 ELSE 0 END), 0) AS "Cancelled",
          COALESCE(SUM(CASE WHEN {{ExecutionColumns.State}} = {{(int)ExecutionState.Lost}} THEN 1 ELSE 0 END), 0) AS "Lost",
          COALESCE(SUM(CASE WHEN {{ExecutionColumns.State}} = {{(int)ExecutionState.Expired}} THEN 1 ELSE 0 END), 0) AS "Expired"
        FROM {{ExecutionColumns.Table}} WHERE {{ExecutionColumns.FinishedAt}} >= {0} AND {{ExecutionColumns.FinishedAt}} < {1}
        """;

    internal sealed class RankedDuration
    {
        public long Rank { get; set; }
        public long Count { get; set; }
        public long Duration { get; set; }
    }

    internal sealed class OutcomeRow
    {
        public long Succeeded { get; set; }
        public long Failed { get; set; }
        public long TimedOut { get; set; }
        public long Cancelled { get; set; }
        public long Lost { get; set; }
        public long Expired { get; set; }
    }

    internal sealed class NameCount
    {
        public string Name { get; set; } = "";
        public long Count { get; set; }
    }
}
