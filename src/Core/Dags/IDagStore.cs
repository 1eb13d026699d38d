using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Dags;

/// <summary>A task of a run as scheduling sees it.</summary>
public sealed record DagTaskRow(long ExecutionId, string Name, ExecutionState State, int AttemptCount, int Priority, ExecutorKind Kind, bool IsGenerator);

/// <summary>A child read at its parent's success: whether it has another parent, and the hinted execution's state read with it.</summary>
public sealed record DagChild(DagTaskRow Task, bool OtherParents, ExecutionState? Hinted);

public sealed record DagProgress(IReadOnlyDictionary<ExecutionState, int> Counts, int Releasable)
{
    public int Count(params ExecutionState[] states) => states.Sum(s => Counts.GetValueOrDefault(s));
    public int Total => Counts.Values.Sum();
}

/// <summary>
/// What DAG runs need from storage beyond the executions themselves (Data implements it). Run state changes are a
/// compare-and-set with their history row in the same transaction, like execution transitions.
/// </summary>
public interface IDagStore
{
    /// <summary>Stores a new run in <see cref="DagRunState.Queued"/> with its first history row; returns its id.</summary>
    Task<long> CreateRunAsync(string tag, string specJson, string parametersJson, bool mayRunCommands, DateTimeOffset at, CancellationToken ct = default);

    /// <summary>
    /// <see cref="CreateRunAsync"/> for a schedule's slot, in one transaction with the slot's firing row; null (nothing
    /// stored) when the slot was already handled.
    /// </summary>
    Task<long?> CreateClaimedRunAsync(Schedules.SlotClaim claim, string tag, string specJson, string parametersJson, bool mayRunCommands, DateTimeOffset at, CancellationToken ct = default);

    Task AddEdgesAsync(long runId, IReadOnlyList<(long Parent, long Child)> edges, CancellationToken ct = default);

    Task<DagRun?> FindRunAsync(long runId, CancellationToken ct = default);

    /// <summary>A run's state alone (null: no such run): the scheduler asks it often, and the run's row carries its whole spec.</summary>
    Task<DagRunState?> RunStateAsync(long runId, CancellationToken ct = default);

    Task<IReadOnlyList<DagTaskRow>> TasksAsync(long runId, CancellationToken ct = default);

    Task<DagTaskRow?> FindTaskAsync(long runId, string taskName, CancellationToken ct = default);

    Task<IReadOnlyList<DagEdge>> EdgesAsync(long runId, CancellationToken ct = default);

    /// <summary>
    /// Children of the execution that are Pending, each with whether it has any other parent, and the state of the
    /// execution <paramref name="hinted"/> read by the same statement (null for 0 or none): a parent thought to block one
    /// of them, so that a join's parents need one read at each success, not two.
    /// </summary>
    Task<IReadOnlyList<DagChild>> PendingChildrenAsync(long parentExecutionId, long hinted = 0,
        CancellationToken ct = default);

    /// <summary>A parent of the task that has not succeeded (the latest created) and its state; null when every parent succeeded.</summary>
    Task<(long Id, ExecutionState State)?> UnsucceededParentAsync(long childExecutionId, CancellationToken ct = default);


    /// <summary>
    /// Pending tasks of the run that have parents, all of which succeeded, and parentless ones stored before
    /// <paramref name="orphanedBefore"/> (roots whose submit stopped before releasing them).
    /// </summary>
    Task<IReadOnlyList<DagTaskRow>> ReadyTasksAsync(long runId, DateTimeOffset orphanedBefore, CancellationToken ct = default);

    /// <summary>Whether any task of the run is queued, scheduled, running or cancelling (work still in flight).</summary>
    Task<bool> HasActiveTasksAsync(long runId, CancellationToken ct = default);

    /// <summary>Runs that are QUEUED or RUNNING.</summary>
    Task<IReadOnlyList<long>> ActiveRunIdsAsync(CancellationToken ct = default);

    /// <summary>
    /// The run's tasks by state, and how many Pending tasks have every parent succeeded (about to be released), read
    /// in one statement: counts and releasable from two different moments could show a run with nothing to do.
    /// </summary>
    Task<DagProgress> ProgressAsync(long runId, CancellationToken ct = default);

    /// <summary>Moves the run to <paramref name="to"/> only if it is in one of <paramref name="from"/>; false when it was not.</summary>
    Task<bool> SetStateAsync(long runId, IReadOnlyCollection<DagRunState> from, DagRunState to, DateTimeOffset at, CancellationToken ct = default);

    /// <summary>
    /// Deletes those of the given tasks that are still Pending and never started, with their edges and history (one
    /// transaction); answers the ids it deleted.
    /// </summary>
    Task<IReadOnlyList<long>> RemoveUnstartedTasksAsync(long runId, IReadOnlyCollection<long> executionIds, CancellationToken ct = default);

    /// <summary>Ids of the run's tasks in these states after <paramref name="afterId"/>, in id order: a bulk act's next batch.</summary>
    Task<IReadOnlyList<long>> RunTaskIdsAsync(long runId, long afterId, int take, IReadOnlyCollection<ExecutionState> states, CancellationToken ct = default);

    /// <summary>Those of these tasks that have a parent that has not succeeded.</summary>
    Task<IReadOnlyList<long>> WithUnsucceededParentAsync(IReadOnlyList<long> ids, CancellationToken ct = default);

    /// <summary>How many of the run's tasks are in these states.</summary>
    Task<int> CountTasksAsync(long runId, IReadOnlyCollection<ExecutionState> states, CancellationToken ct = default);

    /// <summary>One task of the run in these states, if any.</summary>
    Task<DagTaskRow?> FirstTaskInAsync(long runId, IReadOnlyCollection<ExecutionState> states, CancellationToken ct = default);

    /// <summary>An attempt's standard output, as logged.</summary>
    Task<string> OutputTextAsync(long executionId, int attempt, CancellationToken ct = default);
}
