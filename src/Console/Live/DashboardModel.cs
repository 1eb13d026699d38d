using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Dashboard;

namespace Taskdeck.Console.Live;

/// <summary>Everything the dashboard draws for one range, read at one moment.</summary>
public sealed record DashboardSnapshot(
    DashboardCounts Counts, IReadOnlyList<ThroughputBucket> Buckets, IReadOnlyDictionary<ExecutionState, int> States,
    IReadOnlyList<TaskDurations> Durations, IReadOnlyList<MetricSample> Samples, DateTimeOffset LoadedAt);

/// <summary>The dashboard's cards and charts for one range ("1h" or "24h"), shared by every open dashboard: a state change marks it stale.</summary>
public sealed class DashboardModel : LiveModel<DashboardSnapshot>
{
    private readonly DashboardQueries _queries;
    private readonly TimeSpan _leaseExpiry;

    public DashboardModel(string range, DashboardQueries queries, TimeSpan leaseExpiry, ExecutionEvents events, LiveCadence cadence, TimeProvider time, ILogger logger)
        : base(cadence, time, logger)
    {
        Range = range;
        _queries = queries;
        _leaseExpiry = leaseExpiry;
        Follow(events.Subscribe(e =>
        {
            if (e is not (StateChanged or ExecutionDeleted)) return;
            lock (Gate) MarkStale();
        }));
    }

    public string Range { get; }

    protected override async Task<DashboardSnapshot> QueryAsync(CancellationToken ct)
    {
        var now = Time.GetUtcNow();
        var hours = Range == "24h" ? 24 : 1;
        var bucket = Range == "24h" ? TimeSpan.FromMinutes(15) : TimeSpan.FromMinutes(1);
        var summary = await _queries.SummaryAsync(now, _leaseExpiry, ct);
        var buckets = await _queries.ThroughputAsync(now.AddHours(-hours).Add(bucket), now, bucket, ct);
        var durations = await _queries.DurationsAsync(now.AddHours(-24), 8, ct);
        var samples = await _queries.QueueSamplesAsync(now.AddHours(-hours), ct);
        return new DashboardSnapshot(summary.Counts, buckets, summary.States, durations, samples, now);
    }
}
