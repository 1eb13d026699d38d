using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Dags;

/// <summary>
/// Moves DAG runs along as their tasks change state. Called by <see cref="ExecutionTransitions"/> after every applied
/// transition (no polling): a success releases each child whose parents have all succeeded and dispatches it at once;
/// a claim marks the run RUNNING; an end recomputes the run's state.
/// </summary>
/// <remarks>
/// Two parents finishing together cannot strand their child: each observer runs after its own transition committed,
/// so the later of the two sees both succeeded; both may try the release and the compare-and-set lets one win.
/// </remarks>
public sealed class DagScheduler(IDagStore store, IExecutionReader executions, Bulk.IBulkActionStore bulkActions, IServiceProvider services, TimeProvider time,
    ILogger<DagScheduler> logger) : IExecutionObserver, Events.IRemoteChangeObserver
{
    private static readonly DagRunState[] Movable = [DagRunState.Queued, DagRunState.Running, DagRunState.Completed, DagRunState.Errored];

    // Resolved late: ExecutionTransitions itself takes the observers, so a constructor dependency would be a cycle.
    private ExecutionTransitions Transitions => services.GetRequiredService<ExecutionTransitions>();

    public async Task OnTransitionedAsync(TransitionResult result, CancellationToken ct)
    {
        if (result.DagRunId is not { } runId || result.NewState is not { } state) return;
        try
        {
            switch (state)
            {
                case ExecutionState.Succeeded:
                    // A killed run releases nothing (its kill may still be cancelling tasks batch by batch).
                    if (!KnownRunning(runId) && await store.RunStateAsync(runId, ct) == DagRunState.Killed) break;
                    var children = await ReleaseReadyChildrenAsync(runId, result.ExecutionId, ct);
                    // A released child keeps the run RUNNING (its parent's claim made it so): nothing to recompute. So does
                    // a child's blocker read in flight after this success committed: the run cannot have ended, and that
                    // blocker's own end recomputes it.
                    if ((children.Released > 0 || children.BlockerInFlight) && KnownRunning(runId)) break;
                    await RecomputeUnlessStillRunningAsync(runId, ct);
                    break;
                case ExecutionState.Running when result.Transition is Transition.Claim or Transition.ReportStarted:
                    await MarkRunningAsync(runId, ct);
                    break;
                case var s when s.IsTerminal():
                    await RecomputeUnlessStillRunningAsync(runId, ct);
                    break;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The execution's own transition is already committed; a failure here must not undo the worker's close.
            // The run is recomputed on its next task transition, and a restart releases whatever is ready.
            logger.LogError(e, "DAG run {RunId}: scheduling after {Transition} of execution {Id} failed", runId, result.Transition, result.ExecutionId);
        }
    }

    /// <summary>
    /// A bulk act's batch (a kill cancelling thousands of tasks at once): each run is recomputed once, not once per task.
    /// A batch only ever ends waiting records, asks running ones to stop, or sends records back to wait or to the queue,
    /// so nothing is released here.
    /// </summary>
    public async Task OnTransitionedManyAsync(IReadOnlyList<TransitionResult> results, CancellationToken ct)
    {
        foreach (var runId in results.Where(r => r.NewState is { } s && s.IsTerminal()).Select(r => r.DagRunId).OfType<long>().Distinct())
        {
            try { await RecomputeUnlessStillRunningAsync(runId, ct); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "DAG run {RunId}: recompute after a batch of {Count} transitions failed", runId, results.Count);
            }
        }
    }

    /// <summary>
    /// A run this node knows RUNNING stays so while any of its tasks is in flight, so the full recompute (whose counts
    /// read the whole run) waits until the run might end: with a 10,000-task fan-in it ran for every task's end.
    /// </summary>
    private async Task RecomputeUnlessStillRunningAsync(long runId, CancellationToken ct)
    {
        if (_running.ContainsKey(runId) && await store.HasActiveTasksAsync(runId, ct)) return;
        await RecomputeAsync(runId, ct);
    }

    /// <summary>
    /// Runs this node has seen RUNNING, with when it last read so: a claim within <see cref="RunningTrustedFor"/> of that
    /// needs no read of the run. Another node may kill and restart the run meanwhile (it cannot tell this node to forget),
    /// so past that age the database decides again.
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, DateTimeOffset> _running = new();
    internal static readonly TimeSpan RunningTrustedFor = TimeSpan.FromSeconds(1);

    private bool KnownRunning(long runId) => _running.TryGetValue(runId, out var seen) && time.GetUtcNow() - seen < RunningTrustedFor;
    private void SeenRunning(long runId) => _running[runId] = time.GetUtcNow();

    private async Task MarkRunningAsync(long runId, CancellationToken ct)
    {
        if (KnownRunning(runId)) return;
        var state = await store.RunStateAsync(runId, ct);
        if (state == DagRunState.Queued && await store.SetStateAsync(runId, [DagRunState.Queued], DagRunState.Running, time.GetUtcNow(), ct))
            SeenRunning(runId);
        else if (state == DagRunState.Running) SeenRunning(runId);
        else Forget(runId);
    }

    /// <summary>
    /// Another node changed tasks: a run this node knows RUNNING is read again at its next claim here (that node may have
    /// killed or restarted it, and cannot tell this one to forget). One whose tasks were sent back to work (a restart's or an
    /// operator's retry there) is recomputed at once: a claim here that trusted the old "RUNNING" before this news came in
    /// skipped marking the run, which would otherwise read QUEUED while its task runs.
    /// </summary>
    public async Task OnRemoteChangesAsync(IReadOnlyList<Events.StateChanged> changes, CancellationToken ct)
    {
        var forgotten = new HashSet<long>();
        var sentBack = new HashSet<long>();
        foreach (var change in changes)
        {
            if (change.DagRunId is not { } runId) continue;
            if (_running.TryRemove(runId, out _)) forgotten.Add(runId);
            if (change.Transition is Transition.Retry or Transition.Rewait && forgotten.Contains(runId)) sentBack.Add(runId);
        }
        foreach (var runId in sentBack)
        {
            try { await RecomputeAsync(runId, ct); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "DAG run {RunId}: recompute after another node sent its tasks back failed", runId);
            }
        }
    }

    /// <summary>Called when this node moves a run out of RUNNING (kill, restart, end).</summary>
    internal void Forget(long runId)
    {
        _running.TryRemove(runId, out _);
        _joins.TryRemove(runId, out _);
    }

    private async Task<(int Released, bool BlockerInFlight)> ReleaseReadyChildrenAsync(long runId, long parentId, CancellationToken ct)
    {
        var released = 0;
        var blockerInFlight = false;
        // The join this run's last success found blocked: its blocker's state comes with the children read.
        var join = _joins.TryGetValue(runId, out var joined) ? joined : 0;
        var hinted = join != 0 && _blockers.TryGetValue(join, out var blocking) && blocking != parentId ? blocking : 0;
        foreach (var (child, otherParents, hintedState) in await store.PendingChildrenAsync(parentId, hinted, ct))
        {
            // An only child of this parent (a chain) is ready now: this parent just succeeded.
            if (otherParents)
            {
                var read = hinted != 0 && child.ExecutionId == join ? (hinted, hintedState) : default((long, ExecutionState?)?);
                if (await BlockerOfAsync(child.ExecutionId, parentId, read, ct) is { } blocker)
                {
                    blockerInFlight |= blocker.IsInFlight();
                    if (join != child.ExecutionId)
                    {
                        // Count locks the whole dictionary: asked only when a run's join changes, not at every parent's success.
                        if (_joins.Count >= MaxRememberedJoins) _joins.Clear();
                        _joins[runId] = child.ExecutionId;
                    }
                    continue;
                }
            }
            if (await ReleaseAsync(child, ct)) released++;
        }
        return (released, blockerInFlight);
    }

    /// <summary>The parent found blocking each child last time: read first, before all of the child's parents.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, long> _blockers = new();
    private const int MaxRememberedBlockers = 100_000;

    /// <summary>Per run, the child last found blocked: in a fan-in every parent's success asks about that one join.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, long> _joins = new();
    private const int MaxRememberedJoins = 10_000;

    /// <summary>
    /// A join with 10,000 parents would have all of them read at each parent's success (quadratic over the run). The
    /// parent that blocked the child last time is read first: while it has not succeeded the child waits. Only when it
    /// has are all parents read again, latest created first — the blocker found then is likely among the last to run.
    /// The last parent to succeed always reads them all (its cached blocker is itself or has succeeded), so no child is
    /// stranded; the cache is a shortcut, never the only word.
    /// </summary>
    /// <param name="read">A parent's state the children read brought (read after this success committed, as its own read
    /// would be): used when that parent is still the cached blocker.</param>
    /// <returns>The state a parent that has not succeeded was read in; null when the child is ready.</returns>
    private async Task<ExecutionState?> BlockerOfAsync(long childId, long succeededParentId, (long Id, ExecutionState? State)? read, CancellationToken ct)
    {
        if (_blockers.TryGetValue(childId, out var known) && known != succeededParentId
            && (read is { } r && r.Id == known ? r.State : (await executions.FindAsync(known, ct))?.State) is { } state && state != ExecutionState.Succeeded)
            return state;
        if (await store.UnsucceededParentAsync(childId, ct) is not { } blocker)
        {
            _blockers.TryRemove(childId, out _);
            return null;
        }
        if (_blockers.Count >= MaxRememberedBlockers) _blockers.Clear();
        _blockers[childId] = blocker.Id;
        return blocker.State;
    }

    public async Task<bool> ReleaseAsync(DagTaskRow task, CancellationToken ct = default)
    {
        var release = new TransitionCommand(task.ExecutionId, Transition.Release) { Reason = "every parent succeeded" };
        // Released by a worker's own task (a chain's next link) and that worker is free: it runs the child next, released and
        // claimed in one commit. Counted as released: the worker releases it even when it cannot run it.
        if (task.Kind != ExecutorKind.External && Dispatch.ExecutionDispatcher.Continuation.TryTakeToRelease(task.Priority, release))
            return true;
        var result = await Transitions.ApplyAsync(release, ct);
        return result.Applied;
    }

    /// <summary>
    /// COMPLETED when every task succeeded; RUNNING while anything runs, waits or is about to be released; ERRORED when
    /// nothing can progress. KILLED is left only by a restart.
    /// </summary>
    /// <remarks>
    /// A restart's tasks read as ended until its bulk act has queued them again, so a run read QUEUED with nothing to do may
    /// be one whose restart is under way (on any node): ERRORED is settled only when no restart of the run is unfinished,
    /// and on what is read after finding so (a restart that finished in between has changed the tasks). The restart's act
    /// recomputes the run once it is finished.
    /// </remarks>
    public async Task RecomputeAsync(long runId, CancellationToken ct = default)
    {
        var noRestartUnderWay = false;
        for (var round = 0; round < 5; round++)
        {
            if (await store.RunStateAsync(runId, ct) is not { } state || state == DagRunState.Killed)
            {
                Forget(runId);
                return;
            }
            var progress = await store.ProgressAsync(runId, ct);
            if (progress.Total == 0) return;

            DagRunState target;
            if (progress.Count(ExecutionState.Succeeded) == progress.Total) target = DagRunState.Completed;
            else if (progress.Count(ExecutionState.Running, ExecutionState.Cancelling) > 0) target = DagRunState.Running;
            else if (progress.Count(ExecutionState.Queued, ExecutionState.Scheduled) > 0 || progress.Releasable > 0)
                // QUEUED until something has run; once anything has ended (or after a restart) it is RUNNING.
                target = state == DagRunState.Queued && progress.Count(ExecutionStates.Terminal.ToArray()) == 0 ? DagRunState.Queued : DagRunState.Running;
            else target = DagRunState.Errored;

            if (target == DagRunState.Errored && state != DagRunState.Errored && !noRestartUnderWay)
            {
                if (await bulkActions.UnfinishedForRunAsync(runId, ct) is { Kind: Bulk.BulkActionKind.RestartDagRun }) return;
                noRestartUnderWay = true;
                continue;
            }

            if (target == state)
            {
                if (target != DagRunState.Running) Forget(runId); else SeenRunning(runId);
                return;
            }
            if (!Movable.Contains(state)) return;
            if (await store.SetStateAsync(runId, [state], target, time.GetUtcNow(), ct))
            {
                if (target == DagRunState.Running) SeenRunning(runId); else Forget(runId);
                return;
            }
            // Another task's observer moved it meanwhile: look again.
        }
    }
}
