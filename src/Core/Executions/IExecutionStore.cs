namespace Taskdeck.Core.Executions;

/// <summary>
/// What the engine needs from storage. Data implements it; every state change is a compare-and-set
/// (<c>UPDATE … WHERE Id = @id AND State IN (@from)</c>) applied atomically with its attempt and history rows.
/// Writes about one execution are applied in the order they were issued: one issued before another is never committed
/// after it (the runner relies on this to have an attempt's last log lines stored no later than its closing transition).
/// Writes about different executions may commit in any order (a network database commits on several connections at once).
/// </summary>
public interface IExecutionStore
{
    /// <summary>Stores new records (with their first history row) and returns their ids, in order.</summary>
    Task<IReadOnlyList<long>> InsertAsync(IReadOnlyList<(NewExecution Spec, ExecutionState State)> items, DateTimeOffset at, string nodeId, CancellationToken ct = default);

    /// <summary>
    /// Stores the records with the schedule firing that starts them, in one transaction; null (and nothing stored) when
    /// the firing's (schedule, slot) was already handled.
    /// </summary>
    Task<IReadOnlyList<long>?> InsertClaimedAsync(Schedules.SlotClaim claim, IReadOnlyList<(NewExecution Spec, ExecutionState State)> items, DateTimeOffset at,
        string nodeId, CancellationToken ct = default);

    Task<TransitionResult> ApplyAsync(TransitionCommand command, DateTimeOffset at, CancellationToken ct = default);

    /// <summary>
    /// One transition applied to many records as set-based statements in one transaction (<c>UPDATE … WHERE Id IN (…)
    /// AND State = @from</c> per state the rule starts from, with their history rows): only transitions that neither open
    /// nor close an attempt (see <see cref="StateMachine.IsSetBased"/>). Answers the records it changed; the others were
    /// in a state the rule does not start from (a lost race is "not applied", as for one record).
    /// </summary>
    Task<IReadOnlyList<BatchTransitioned>> ApplyManyAsync(TransitionCommand template, IReadOnlyList<long> ids, DateTimeOffset at, CancellationToken ct = default);

    /// <summary>The current state of each of these records that exists.</summary>
    Task<IReadOnlyList<(long Id, ExecutionState State)>> StatesAsync(IReadOnlyList<long> ids, CancellationToken ct = default);

    /// <summary>Ids matching the filter after <paramref name="afterId"/>, in id order: a bulk act's next batch.</summary>
    Task<IReadOnlyList<long>> FindIdsAfterAsync(ExecutionFilter filter, long afterId, int limit, CancellationToken ct = default);

    /// <summary>Deletes those of these records that are terminal, with their attempts, logs, history and edges; answers the ids deleted.</summary>
    Task<IReadOnlyList<long>> DeleteTerminalManyAsync(IReadOnlyList<long> ids, CancellationToken ct = default);

    Task<Execution?> FindAsync(long id, CancellationToken ct = default);

    /// <summary>Those of these records that exist, in no particular order: a batch job's records in one read.</summary>
    Task<IReadOnlyList<Execution>> FindManyAsync(IReadOnlyList<long> ids, CancellationToken ct = default);

    Task<Execution?> FindByTaskIdAsync(string taskId, CancellationToken ct = default);

    Task AppendLogAsync(IReadOnlyList<LogEntry> entries, CancellationToken ct = default);

    Task SetHangfireJobAsync(long id, string jobId, CancellationToken ct = default);

    /// <summary>Many jobs in one write: a batch submission must not cost a round trip per record.</summary>
    Task SetHangfireJobsAsync(IReadOnlyList<(long Id, string JobId)> jobs, CancellationToken ct = default) =>
        Task.WhenAll(jobs.Select(j => SetHangfireJobAsync(j.Id, j.JobId, ct)));

    Task SetProgressAsync(long id, double? progress, string? message, CancellationToken ct = default);

    /// <summary>Deletes a terminal record with its attempts, logs and history; returns the state found (null: none).</summary>
    Task<(bool Deleted, ExecutionState? FoundState)> DeleteTerminalAsync(long id, CancellationToken ct = default);

    Task<IReadOnlyList<long>> FindIdsAsync(ExecutionFilter filter, int limit, CancellationToken ct = default);

    /// <summary>How many records match the filter (one COUNT, nothing fetched).</summary>
    Task<int> CountAsync(ExecutionFilter filter, CancellationToken ct = default);

    /// <summary>Waiting records that should have a Hangfire job: (id, job id, priority, run-at, updated-at).</summary>
    Task<IReadOnlyList<DispatchRow>> FindDispatchableAsync(long afterId, int limit, CancellationToken ct = default);

    Task<IReadOnlyList<long>> FindExpiredAsync(DateTimeOffset now, int limit, CancellationToken ct = default);

    /// <summary>Running or Cancelling records whose node has no live lease.</summary>
    Task<IReadOnlyList<(long Id, ExecutionState State, int Attempt)>> FindOnDeadNodesAsync(DateTimeOffset leaseCutoff, CancellationToken ct = default);

    Task<IReadOnlyList<long>> FindCancellingOnNodeAsync(string nodeId, CancellationToken ct = default);

    /// <summary>Running or Cancelling records that name <paramref name="nodeId"/> as their worker, claimed before <paramref name="claimedBefore"/>.</summary>
    Task<IReadOnlyList<(long Id, ExecutionState State, int Attempt)>> FindActiveOnNodeAsync(string nodeId, DateTimeOffset claimedBefore, CancellationToken ct = default);

    Task HeartbeatAsync(Workers.WorkerNode node, CancellationToken ct = default);

    Task<IReadOnlyList<Workers.WorkerNode>> ListNodesAsync(CancellationToken ct = default);

    /// <summary>
    /// State changes after a cursor: how a node follows changes made by the others. A change made by
    /// <paramref name="exceptNode"/> comes back as its id and node only (<see cref="FollowedChange.IsBare"/>): the follower
    /// needs its id to move its cursor (and to tell it from a late commit), not its record.
    /// </summary>
    Task<IReadOnlyList<FollowedChange>> ChangesAfterAsync(long cursor, int limit, CancellationToken ct = default, string? exceptNode = null);

    /// <summary>The state changes among these ids that are visible now (the follower's late commits); <paramref name="exceptNode"/>'s bare, as above.</summary>
    Task<IReadOnlyList<FollowedChange>> ChangesWithIdsAsync(IReadOnlyCollection<long> ids, CancellationToken ct = default, string? exceptNode = null);

    Task<long> LatestChangeIdAsync(CancellationToken ct = default);

    Task<bool> CanConnectAsync(CancellationToken ct = default);
}

/// <summary>A history row as another node's follower reads it, with the DAG run of its record (null when none, or deleted).</summary>
public sealed record FollowedChange(StateChange Change, long? DagRunId)
{
    /// <summary>Only <see cref="StateChange.Id"/> and <see cref="StateChange.NodeId"/> were read (a change of the node that asked).</summary>
    public bool IsBare { get; init; }
}

/// <summary>A record a set-based transition changed: where it came from, and what dispatching it again needs.</summary>
public sealed record BatchTransitioned(long Id, ExecutionState From, int AttemptCount, long? DagRunId, string? HangfireJobId, int Priority, ExecutorKind Kind);

public sealed record DispatchRow(long Id, ExecutionState State, string? HangfireJobId, int Priority, DateTimeOffset? RunAt, DateTimeOffset UpdatedAt);
