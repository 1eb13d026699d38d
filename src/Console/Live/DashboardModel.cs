using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Dashboard;

namespace Taskdeck.Console.Live;

/// <summary>Everything the dashboard draws for one range, read at one moment.</summary>
public sealed record DashboardSnapshot(
    DashboardCounts Counts, IReadOnlyList<ThroughputBucket> Buckets, IReadOnlyDictionary<ExecutionState, int> States,
    IReadOnlyList<TaskDurations> Durations, IReadOnlyList<MetricSample> Samples, DateTimeOffset LoadedAt);

/// <summary>
/// The dashboard's cards and charts for one range ("1h" or "24h"), shared by every open dashboard: a state change marks it
/// stale. A refresh reads what moves — the live states, the outcomes of what finished since the last full read (less
/// those of what has since left the last hour and day), the throughput's last two buckets (the one filling, and the one
/// before it, where a commit that ends just after the bucket's end still lands) — and keeps the rest from its last full
/// read: the hour's and the day's outcomes up to that read, the finished buckets, the day's run times, the queue samples
/// written once a minute. Those are read again at most every <see cref="LiveCadence.HistoryInterval"/> (and never kept
/// longer than a bucket), and at the next refresh after a record left them: a deletion, or a finished record sent back by
/// a retry. Every refresh read them all before: 60 one-minute buckets (96 for the day) and the run times of eight tasks,
/// ≈ 75 statements for the hour (111 for the day), and every execution that finished in the last day, twice, for the
/// cards; a refresh now reads 8 statements, over a few seconds' rows each.
/// </summary>
public sealed class DashboardModel : LiveModel<DashboardSnapshot>
{
    private readonly DashboardQueries _queries;
    private readonly TimeSpan _leaseExpiry;
    private readonly TimeSpan _historyInterval;
    private History? _history;
    private bool _historyStale;

    /// <summary>
    /// How long after its finish time a finished execution may still be committing (a transition is stamped with its node's
    /// clock before its write commits). What finished before a full read by more than this is kept from it; what finished
    /// later is read again at every refresh. One that took longer (a node whose clock is behind) is counted at the next
    /// full read.
    /// </summary>
    internal static readonly TimeSpan CommitLag = TimeSpan.FromSeconds(5);

    /// <summary>
    /// What a full read found, and when. <see cref="Finished"/> counts the hour's and the day's outcomes up to
    /// <see cref="Cut"/> (<see cref="CommitLag"/> before the read).
    /// </summary>
    private sealed record History(
        IReadOnlyList<ThroughputBucket> Buckets, IReadOnlyList<TaskDurations> Durations, IReadOnlyList<MetricSample> Samples,
        FinishedOutcomes Finished, DateTimeOffset Cut, DateTimeOffset ReadAt);

    public DashboardModel(string range, DashboardQueries queries, TimeSpan leaseExpiry, ExecutionEvents events, LiveCadence cadence, TimeProvider time, ILogger logger)
        : base(cadence, time, logger)
    {
        Range = range;
        _queries = queries;
        _leaseExpiry = leaseExpiry;
        _historyInterval = cadence.HistoryInterval;
        Follow(events.Subscribe(e =>
        {
            if (e is not (StateChanged or ExecutionDeleted)) return;
            lock (Gate)
            {
                // A record that leaves a finished bucket or the run times — deleted, or a finished one sent back to run
                // again (its finish time is cleared) — makes the history read again.
                if (e is ExecutionDeleted || e is StateChanged { From: { } from } && from.IsTerminal()) _historyStale = true;
                MarkStale();
            }
        }));
    }

    public string Range { get; }

    private int _historyReads;

    /// <summary>Full reads of the history so far (the first load's included).</summary>
    internal int HistoryReads => Volatile.Read(ref _historyReads);

    protected override async Task<DashboardSnapshot> QueryAsync(CancellationToken ct)
    {
        var now = Time.GetUtcNow();
        var hours = Range == "24h" ? 24 : 1;
        var bucket = Range == "24h" ? TimeSpan.FromMinutes(15) : TimeSpan.FromMinutes(1);
        var since = now.AddHours(-hours).Add(bucket);
        History? history;
        lock (Gate)
        {
            history = _history;
            // Cleared before reading: a record that leaves the history while this query runs marks the next one.
            if (_historyStale) history = null;
            _historyStale = false;
        }
        try
        {
            IReadOnlyList<ThroughputBucket>? buckets = null;
            FinishedOutcomes finished;
            // A kept bucket must have ended before the read that found it: never keep the history longer than a bucket.
            if (history is not null && now >= history.ReadAt && now - history.ReadAt < (_historyInterval < bucket ? _historyInterval : bucket))
                buckets = Splice(history.Buckets, await _queries.ThroughputAsync(now - bucket, now, bucket, ct), since, bucket);
            if (buckets is not null && history is not null)
            {
                finished = history.Finished.Moved(
                    await _queries.FinishedBetweenAsync(history.Cut, null, ct),
                    await _queries.FinishedBetweenAsync(history.ReadAt.AddHours(-1), now.AddHours(-1), ct),
                    await _queries.FinishedBetweenAsync(history.ReadAt.AddHours(-24), now.AddHours(-24), ct));
                // A record stamped more than CommitLag before it committed (another node's clock behind this one's)
                // is counted at the next full read: make sure there is one, even if nothing else changes.
                RecheckAt(history.ReadAt + _historyInterval);
            }
            else
            {
                buckets = await _queries.ThroughputAsync(since, now, bucket, ct);
                var cut = now - CommitLag;
                var kept = new FinishedOutcomes(
                    await _queries.FinishedBetweenAsync(now.AddHours(-1), cut, ct), await _queries.FinishedBetweenAsync(now.AddHours(-24), cut, ct));
                history = new History(buckets, await _queries.DurationsAsync(now.AddHours(-24), 8, ct), await _queries.QueueSamplesAsync(now.AddHours(-hours), ct),
                    kept, cut, now);
                var empty = new Dictionary<ExecutionState, int>();
                finished = kept.Moved(await _queries.FinishedBetweenAsync(cut, null, ct), empty, empty);
                Interlocked.Increment(ref _historyReads);
                lock (Gate) _history = history;
            }
            var summary = await _queries.SummaryAsync(finished, now, _leaseExpiry, ct);
            return new DashboardSnapshot(summary.Counts, buckets, summary.States, history.Durations, history.Samples, now);
        }
        catch
        {
            // What marked the history stale was taken above: after a failed refresh the next one reads it all again.
            lock (Gate) _historyStale = true;
            throw;
        }
    }

    /// <summary>
    /// The window's buckets from <paramref name="since"/>: the known ones up to where <paramref name="recent"/> starts, then
    /// <paramref name="recent"/>. Null when the two do not meet (the known ones end too early, or start too late): read all.
    /// </summary>
    internal static IReadOnlyList<ThroughputBucket>? Splice(IReadOnlyList<ThroughputBucket> known, IReadOnlyList<ThroughputBucket> recent, DateTimeOffset since, TimeSpan bucket)
    {
        if (recent.Count == 0 || known.Count == 0) return null;
        var first = DashboardQueries.BucketStart(since, bucket);
        var kept = known.Where(b => b.Start >= first && b.Start < recent[0].Start).ToList();
        var expected = (recent[0].Start - first).Ticks / bucket.Ticks;
        if (kept.Count != expected || kept.Count > 0 && (kept[0].Start != first || kept[^1].Start + bucket != recent[0].Start)) return null;
        return [.. kept, .. recent];
    }
}
