namespace Taskdeck.Core.Executions;

/// <summary>
/// Deletes finished records with everything that hangs off them. Each delete is guarded by the record's state: a record
/// another node retried meanwhile is not terminal any more, and stays.
/// </summary>
public interface IExecutionDeleter
{
    /// <summary>Deletes a terminal record with its attempts, logs and history; returns the state found (null: none).</summary>
    Task<(bool Deleted, ExecutionState? FoundState)> DeleteTerminalAsync(long id, CancellationToken ct = default);

    /// <summary>Deletes those of these records that are terminal, with their attempts, logs, history and edges; answers the ids deleted.</summary>
    Task<IReadOnlyList<long>> DeleteTerminalManyAsync(IReadOnlyList<long> ids, CancellationToken ct = default);
}
