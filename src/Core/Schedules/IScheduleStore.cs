using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Schedules;

/// <summary>Changes to the schedule definitions, cheap to read every second: a change of either means "reload".</summary>
public sealed record ScheduleStamp(int Count, long LatestUpdate);

/// <summary>
/// What schedules need from storage (Data implements it). A firing row is unique on (schedule, slot) and is written
/// with the run it starts (see <see cref="Executions.IExecutionTransitionStore"/>'s claimed insert and <see cref="Dags.IDagStore"/>'s claimed
/// run), so a slot is handled once across nodes and restarts.
/// </summary>
public interface IScheduleStore
{
    /// <summary>Stores a new schedule; null when the name is taken.</summary>
    Task<long?> CreateAsync(Schedule schedule, CancellationToken ct = default);

    /// <summary>Writes the definition (everything but id, creation, last slot); false when it no longer exists or the name is taken.</summary>
    Task<bool> UpdateAsync(Schedule schedule, CancellationToken ct = default);

    /// <summary>Deletes the schedule and its firing history; the runs it started stay (they keep its name).</summary>
    Task<bool> DeleteAsync(long id, CancellationToken ct = default);

    Task<Schedule?> FindAsync(long id, CancellationToken ct = default);

    Task<Schedule?> FindByNameAsync(string name, CancellationToken ct = default);

    Task<IReadOnlyList<Schedule>> ListAsync(CancellationToken ct = default);

    Task<ScheduleStamp> StampAsync(CancellationToken ct = default);

    /// <summary>A firing that starts nothing (skipped, buffered, failed); false when the slot was already handled.</summary>
    Task<bool> RecordAsync(SlotClaim claim, FiringOutcome outcome, CancellationToken ct = default);

    /// <summary>Runs the schedule (by name) started that have not ended: executions outside DAGs, and DAG runs.</summary>
    Task<IReadOnlyList<ActiveRun>> ActiveRunsAsync(string scheduleName, CancellationToken ct = default);

    /// <summary>The schedule's firing waiting in <see cref="FiringOutcome.Buffered"/>, if any.</summary>
    Task<ScheduleFiring?> BufferedAsync(long scheduleId, CancellationToken ct = default);

    /// <summary>The schedule's firings, newest first, before the given id.</summary>
    Task<IReadOnlyList<FiringView>> FiringsAsync(long scheduleId, long? beforeId, int limit, CancellationToken ct = default);

    /// <summary>Each schedule's latest firing.</summary>
    Task<IReadOnlyDictionary<long, FiringView>> LatestFiringsAsync(CancellationToken ct = default);
}
