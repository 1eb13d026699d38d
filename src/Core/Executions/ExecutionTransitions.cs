using Microsoft.Extensions.Logging;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Events;

namespace Taskdeck.Core.Executions;

/// <summary>
/// The one place a state changes: applies a named transition as a compare-and-set, then carries out what entering the
/// new state means, tells the observers (DAG scheduling, work-task notifications) and then the event stream. Callers
/// never write a state, nor create a Hangfire job for a record they sent back to wait, themselves.
/// </summary>
/// <remarks>
/// Observers go first so that whoever reacts to an event reads what the transition led to: the last task's end of a DAG
/// run is published once the run's own state has been recomputed, so a page reloading on it shows ERRORED, not RUNNING.
/// </remarks>
public sealed class ExecutionTransitions(
    IExecutionStore store,
    ExecutionEvents events,
    IEnumerable<IExecutionObserver> observers,
    ExecutionDispatcher dispatcher,
    Workers.NodeIdentity node,
    TimeProvider time,
    ILogger<ExecutionTransitions> logger)
{
    private readonly IExecutionObserver[] _observers = observers.ToArray();

    public async Task<TransitionResult> ApplyAsync(TransitionCommand command, CancellationToken ct = default)
    {
        var at = time.GetUtcNow();
        if (command.RunAfter is { } delay) command = command with { RunAt = at + delay };
        // The acting node is recorded in the history: other nodes' change followers republish only what they did not do.
        command = command.NodeId is null ? command with { NodeId = node.Id } : command;
        var result = await store.ApplyAsync(command, at, ct);
        if (result.Applied)
        {
            try
            {
                foreach (var observer in _observers)
                    await observer.OnTransitionedAsync(result, ct);
            }
            finally
            {
                events.Publish(new StateChanged(result.ExecutionId, result.At, result.FoundState, result.NewState!.Value,
                    result.Transition, result.AttemptNumber, result.DagRunId, command.NodeId));
            }
            // After the change is published: a worker that takes the job at once publishes Running after this Queued.
            if (EntersAQueue(result.NewState!.Value, result.Kind))
                await DispatchAsync(() => dispatcher.DispatchAsync(result.ExecutionId, result.Priority, command.RunAt, time.GetUtcNow(), ct), 1);
        }
        return result;
    }

    /// <summary>
    /// <paramref name="template"/>'s transition applied to every one of <paramref name="ids"/> that its rule starts from,
    /// set-based (one transaction for the batch), then published and observed like single transitions.
    /// </summary>
    public async Task<IReadOnlyList<BatchTransitioned>> ApplyManyAsync(TransitionCommand template, IReadOnlyList<long> ids, CancellationToken ct = default)
    {
        if (!StateMachine.IsSetBased(template.Transition))
            throw new ArgumentOutOfRangeException(nameof(template), template.Transition, "Only transitions that neither open nor close an attempt are applied set-based.");
        if (ids.Count == 0) return [];
        var at = time.GetUtcNow();
        template = template.NodeId is null ? template with { NodeId = node.Id } : template;
        var changed = await store.ApplyManyAsync(template, ids, at, ct);
        if (changed.Count == 0) return changed;
        var to = StateMachine.Rule(template.Transition).To;
        var results = new List<TransitionResult>(changed.Count);
        foreach (var row in changed)
            results.Add(new TransitionResult(row.Id, template.Transition, true, row.From, to, row.AttemptCount, at, row.DagRunId) { Priority = row.Priority, Kind = row.Kind });
        try
        {
            foreach (var observer in _observers)
                await observer.OnTransitionedManyAsync(results, ct);
        }
        finally
        {
            foreach (var row in changed)
                events.Publish(new StateChanged(row.Id, at, row.From, to, template.Transition, row.AttemptCount, row.DagRunId, template.NodeId));
        }
        // After the changes are published, as for a single transition.
        if (changed.Where(row => EntersAQueue(to, row.Kind)).Select(row => (row.Id, row.Priority, template.RunAt)).ToList() is { Count: > 0 } waiting)
            await DispatchAsync(() => dispatcher.DispatchManyAsync(waiting, time.GetUtcNow(), ct), waiting.Count);
        return changed;
    }

    /// <summary>
    /// Entering Queued or Scheduled means waiting for a worker: the record is given its job here, whichever path sent it
    /// (a retry, a lost lease, a DAG release, an interrupted attempt). An external worker's record waits for that worker.
    /// </summary>
    private static bool EntersAQueue(ExecutionState state, ExecutorKind kind) =>
        state is ExecutionState.Queued or ExecutionState.Scheduled && kind != ExecutorKind.External;

    /// <summary>
    /// A job store that cannot be reached does not undo the transition: the record is durable and waiting, and the
    /// <see cref="Workers.Reconciler"/> gives it a job once the store answers. Any other failure is a defect and surfaces.
    /// </summary>
    private async Task DispatchAsync(Func<Task> dispatch, int count)
    {
        try
        {
            await dispatch();
        }
        catch (Exception e) when (DispatchFailure.IsUnavailable(e))
        {
            logger.LogWarning(e, "Creating the jobs of {Count} executions that entered a queue failed; the reconciler will dispatch them", count);
        }
    }

    internal async Task<IReadOnlyList<long>?> InsertAsync(IReadOnlyList<(NewExecution Spec, ExecutionState State)> items, Schedules.SlotClaim? claim, CancellationToken ct)
    {
        var at = time.GetUtcNow();
        var ids = claim is null ? await store.InsertAsync(items, at, node.Id, ct) : await store.InsertClaimedAsync(claim, items, at, node.Id, ct);
        if (ids is null) return null;
        for (var i = 0; i < ids.Count; i++)
            events.Publish(new StateChanged(ids[i], at, null, items[i].State, Transition.Submit, 0, items[i].Spec.DagRunId, node.Id));
        return ids;
    }
}
