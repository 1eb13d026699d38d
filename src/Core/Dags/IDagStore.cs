using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Dags;

/// <summary>A task of a run as scheduling sees it.</summary>
public sealed record DagTaskRow(long ExecutionId, string Name, ExecutionState State, int AttemptCount, int Priority, ExecutorKind Kind, bool IsGenerator);

/// <summary>
/// What DAG runs need from storage beyond the executions themselves (Data implements it). Run state changes are a
/// compare-and-set with their history row in the same transaction, like execution transitions.
/// </summary>
public interface IDagStore
{
    /// <summary>Stores a new run in <see cref="DagRunState.Queued"/> with its first history row; returns its id.</summary>
    Task<long> CreateRunAsync(string tag, string specJson, string parametersJson, DateTimeOffset at, CancellationToken ct = default);

    Task AddEdgesAsync(long runId, IReadOnlyList<(long Parent, long Child)> edges, CancellationToken ct = default);

    Task<DagRun?> FindRunAsync(long runId, CancellationToken ct = default);

    Task<IReadOnlyList<DagTaskRow>> TasksAsync(long runId, CancellationToken ct = default);

    Task<DagTaskRow?> FindTaskAsync(long runId, string taskName, CancellationToken ct = default);

    Task<IReadOnlyList<DagEdge>> EdgesAsync(long runId, CancellationToken ct = default);

    /// <summary>Children of the execution that are Pending and whose parents have all succeeded.</summary>
    Task<IReadOnlyList<DagTaskRow>> ReadyChildrenAsync(long parentExecutionId, CancellationToken ct = default);

    Task<IReadOnlyDictionary<ExecutionState, int>> CountByStateAsync(long runId, CancellationToken ct = default);

    /// <summary>Whether a Pending task of the run has every parent succeeded (it is about to be released).</summary>
    Task<bool> AnyReleasableAsync(long runId, CancellationToken ct = default);

    /// <summary>Moves the run to <paramref name="to"/> only if it is in one of <paramref name="from"/>; false when it was not.</summary>
    Task<bool> SetStateAsync(long runId, IReadOnlyCollection<DagRunState> from, DagRunState to, DateTimeOffset at, CancellationToken ct = default);

    /// <summary>An attempt's standard output, as logged.</summary>
    Task<string> OutputTextAsync(long executionId, int attempt, CancellationToken ct = default);
}
