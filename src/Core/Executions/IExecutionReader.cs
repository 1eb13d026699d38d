namespace Taskdeck.Core.Executions;

/// <summary>Reads execution records: one by id or task id, a batch's records, and the ids a filter selects.</summary>
public interface IExecutionReader
{
    Task<Execution?> FindAsync(long id, CancellationToken ct = default);

    /// <summary>Those of these records that exist, in no particular order: a batch job's records in one read.</summary>
    Task<IReadOnlyList<Execution>> FindManyAsync(IReadOnlyList<long> ids, CancellationToken ct = default);

    Task<Execution?> FindByTaskIdAsync(string taskId, CancellationToken ct = default);

    /// <summary>The current state of each of these records that exists.</summary>
    Task<IReadOnlyList<(long Id, ExecutionState State)>> StatesAsync(IReadOnlyList<long> ids, CancellationToken ct = default);

    Task<IReadOnlyList<long>> FindIdsAsync(ExecutionFilter filter, int limit, CancellationToken ct = default);

    /// <summary>Ids matching the filter after <paramref name="afterId"/>, in id order: a bulk act's next batch.</summary>
    Task<IReadOnlyList<long>> FindIdsAfterAsync(ExecutionFilter filter, long afterId, int limit, CancellationToken ct = default);

    /// <summary>How many records match the filter (one COUNT, nothing fetched).</summary>
    Task<int> CountAsync(ExecutionFilter filter, CancellationToken ct = default);
}
