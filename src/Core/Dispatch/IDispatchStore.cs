using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Dispatch;

/// <summary>Waiting records as the dispatcher sees them: the job that carries each, which still need one, which waited too long.</summary>
public interface IDispatchStore
{
    Task SetHangfireJobAsync(long id, string jobId, CancellationToken ct = default);

    /// <summary>Many jobs in one write: a batch submission must not cost a round trip per record.</summary>
    Task SetHangfireJobsAsync(IReadOnlyList<(long Id, string JobId)> jobs, CancellationToken ct = default);

    /// <summary>Waiting records that should have a Hangfire job: (id, job id, priority, run-at, updated-at).</summary>
    Task<IReadOnlyList<DispatchRow>> FindDispatchableAsync(long afterId, int limit, CancellationToken ct = default);

    /// <summary>Of these records, those waiting now, read as <see cref="FindDispatchableAsync(long, int, CancellationToken)"/> reads them.</summary>
    Task<IReadOnlyList<DispatchRow>> FindDispatchableAsync(IReadOnlyCollection<long> ids, CancellationToken ct = default);

    /// <summary>Waiting (Queued or Scheduled) records whose deadline has passed.</summary>
    Task<IReadOnlyList<long>> FindExpiredAsync(DateTimeOffset now, int limit, CancellationToken ct = default);
}

public sealed record DispatchRow(long Id, ExecutionState State, string? HangfireJobId, int Priority, DateTimeOffset? RunAt, DateTimeOffset UpdatedAt);
