using Taskdeck.Core.Executions;

namespace Taskdeck.Core.WorkTasks;

/// <summary>A work task: the execution that runs it and the work-task fields kept beside it.</summary>
public sealed record WorkTaskRecord(Execution Execution, WorkTask Task);

/// <summary>The work-task rows. Data implements it; state changes stay with <see cref="ExecutionTransitions"/>.</summary>
public interface IWorkTaskStore
{
    Task InsertAsync(WorkTask task, CancellationToken ct = default);

    Task<WorkTaskRecord?> FindAsync(string workTaskId, CancellationToken ct = default);

    Task<WorkTaskRecord?> FindByExecutionAsync(long executionId, CancellationToken ct = default);

    /// <summary>
    /// Keeps what a worker's end report carries — its output location and metadata (null leaves that field as it is) — in one
    /// guarded UPDATE, before the end is applied: it applies only while the execution is at <paramref name="attempt"/> in one
    /// of <paramref name="states"/> (those the end's transition leaves from), so a report that lost a race with a cancel, another
    /// end or the next attempt changes nothing. Returns whether it applied: the report was taken.
    /// </summary>
    Task<bool> RecordWorkerEndAsync(long executionId, IReadOnlyList<ExecutionState> states, int attempt, string? outputLocation, string? metadataJson,
        CancellationToken ct = default);

    /// <summary>Keeps why a worker's failure was retried, once the retry's transition has applied.</summary>
    Task RecordRetryReasonAsync(long executionId, string retryReason, CancellationToken ct = default);

    /// <summary>
    /// Keeps what a worker reported — its metadata (null leaves it as it is) and, when <paramref name="started"/>, that the
    /// worker of <paramref name="attempt"/> started — in one guarded UPDATE: it applies only while the execution is still
    /// <paramref name="state"/> at <paramref name="attempt"/> (what the report was read against), so a report that lost a race
    /// with the attempt's end, a cancel or the next attempt changes nothing. Returns whether it applied: the report was taken.
    /// A report to keep has metadata or says the worker started (or both).
    /// </summary>
    Task<bool> RecordWorkerReportAsync(long executionId, ExecutionState state, int attempt, string? metadataJson, bool started, CancellationToken ct = default);

    /// <summary>Keeps the hash of the token a spawned worker of <paramref name="attempt"/> gets (replacing any earlier attempt's).</summary>
    Task SetWorkerTokenAsync(long executionId, int attempt, string tokenHash, CancellationToken ct = default);

    /// <summary>External work tasks running past their timeout: (execution id, current attempt).</summary>
    Task<IReadOnlyList<(long Id, int Attempt)>> FindOverdueExternalAsync(DateTimeOffset now, CancellationToken ct = default);

    /// <summary>External work tasks an operator asked to cancel while they ran: (execution id, current attempt).</summary>
    Task<IReadOnlyList<(long Id, int Attempt)>> FindCancellingExternalAsync(CancellationToken ct = default);
}
