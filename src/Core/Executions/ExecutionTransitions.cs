using Microsoft.Extensions.Logging;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Events;

namespace Taskdeck.Core.Executions;

/// <summary>
/// The one place a state changes: applies a named transition as a compare-and-set, tells the observers (DAG scheduling,
/// work-task notifications) and then the event stream, then carries out what entering the new state means (see
/// <see cref="EnteredAsync"/>). Callers never write a state, nor create, drop or signal the work of a record themselves.
/// </summary>
/// <remarks>
/// Observers go first so that whoever reacts to an event reads what the transition led to: the last task's end of a DAG
/// run is published once the run's own state has been recomputed, so a page reloading on it shows ERRORED, not RUNNING.
/// </remarks>
public sealed class ExecutionTransitions(
    IExecutionTransitionStore store,
    ExecutionEvents events,
    IEnumerable<IExecutionObserver> observers,
    ExecutionDispatcher dispatcher,
    Executors.RunningWork running,
    Workers.NodeIdentity node,
    TimeProvider time,
    ILogger<ExecutionTransitions> logger)
{
    private readonly IExecutionObserver[] _observers = observers.ToArray();

    public async Task<TransitionResult> ApplyAsync(TransitionCommand command, CancellationToken ct = default)
    {
        var at = time.GetUtcNow();
        command = Completed(command, at);
        var result = await store.ApplyAsync(command, at, ct);
        if (result.Applied) await AnnounceAsync(result, command, enter: true, ct);
        return result;
    }

    /// <summary>
    /// Two transitions of one record committed together (and on PostgreSQL sent in one round trip): a DAG child released
    /// and claimed by the worker that released it pays one durable commit instead of two. Each is still its own compare-and-set: <paramref name="second"/> applies
    /// only if the record is in a state its rule starts from once <paramref name="first"/> has been tried. Both are
    /// observed and published in order; entering <paramref name="first"/>'s state means nothing when the record left it
    /// in the same commit (a released record that was claimed needs no job).
    /// </summary>
    public async Task<(TransitionResult First, TransitionResult Second)> ApplyTogetherAsync(TransitionCommand first, TransitionCommand second, CancellationToken ct = default)
    {
        if (first.ExecutionId != second.ExecutionId)
            throw new ArgumentException("Transitions committed together belong to one record.", nameof(second));
        var at = time.GetUtcNow();
        first = Completed(first, at);
        second = Completed(second, at);
        var (firstWrite, secondWrite) = store.ApplyTogether(first, second, at, ct);
        TransitionResult firstResult;
        try
        {
            firstResult = await firstWrite;
        }
        catch (Exception failure) when (failure is not OperationCanceledException)
        {
            // A failed batch's items are run again one by one: the second may still have applied (to a record another
            // path had already moved on), and then its caller must act on it — a claim not acted on would leave a record
            // Running that nobody runs.
            if (await secondWrite is not { Applied: true } applied) throw;
            logger.LogWarning(failure, "{Transition} of execution {Id} failed; the {Second} committed with it applied on its own",
                first.Transition, first.ExecutionId, second.Transition);
            await AnnounceAsync(applied, second, enter: true, ct);
            return (new TransitionResult(first.ExecutionId, first.Transition, false, applied.FoundState, null, applied.AttemptNumber, at, applied.DagRunId), applied);
        }
        TransitionResult secondResult;
        try
        {
            secondResult = await secondWrite;
        }
        catch when (firstResult.Applied)
        {
            // The first stands on its own: what entering its state means is carried out (a released record gets its job).
            await AnnounceAsync(firstResult, first, enter: true, ct);
            throw;
        }
        try
        {
            if (firstResult.Applied) await AnnounceAsync(firstResult, first, enter: !secondResult.Applied, ct);
        }
        catch (Exception e) when (secondResult.Applied && e is not OperationCanceledException)
        {
            // The second committed too and its caller acts on it (a claim not run would leave a record Running that
            // nobody runs): the first's failed announcement is logged, not thrown.
            logger.LogError(e, "Announcing {Transition} of execution {Id} failed; the {Second} committed with it goes on", first.Transition, first.ExecutionId, second.Transition);
        }
        if (secondResult.Applied) await AnnounceAsync(secondResult, second, enter: true, ct);
        return (firstResult, secondResult);
    }

    private TransitionCommand Completed(TransitionCommand command, DateTimeOffset at)
    {
        if (command.RunAfter is { } delay) command = command with { RunAt = at + delay };
        // The acting node is recorded in the history: other nodes' change followers republish only what they did not do.
        return command.NodeId is null ? command with { NodeId = node.Id } : command;
    }

    /// <summary>Observers, then the event stream, then (unless <paramref name="enter"/> is false) what entering the new state means.</summary>
    private async Task AnnounceAsync(TransitionResult result, TransitionCommand command, bool enter, CancellationToken ct)
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
        if (enter)
            await EnteredAsync([new EnteredState(result.ExecutionId, result.FoundState!.Value, result.NewState!.Value, result.Kind, result.Priority, result.HangfireJobId)],
                command.RunAt, ct);
    }

    /// <summary>
    /// What entering a state means, carried out after the change is published (a worker that takes a job at once
    /// publishes Running after the Queued that led to it; a stopped attempt's Cancelled comes after its Cancelling), for
    /// one record or a set-based batch alike, so the two paths cannot come to mean different things:
    /// <list type="bullet">
    /// <item>Queued or Scheduled: the record waits for a worker, so it is given its job, whichever path sent it (a retry,
    /// a lost lease, a DAG release, an interrupted attempt); records that enter together share their jobs. An external
    /// worker's record waits for that worker.</item>
    /// <item>Cancelling: the attempt is told to stop, here when it runs here. On another node the change feed brings the
    /// news to <see cref="Executors.RunningWork.SignalRequestedCancelsAsync"/> (and its lease keeper's watch, as a fallback).</item>
    /// <item>Cancelled from waiting: the record will never be taken, so its job is dropped (best effort: a job that finds
    /// it cancelled does nothing). A Cancelled that confirms a stopped attempt leaves the job that ran it alone.</item>
    /// </list>
    /// </summary>
    internal async Task EnteredAsync(IReadOnlyList<EnteredState> rows, DateTimeOffset? runAt, CancellationToken ct)
    {
        List<(long, int, DateTimeOffset?)>? waiting = null;
        foreach (var row in rows)
        {
            switch (row.To)
            {
                case ExecutionState.Queued or ExecutionState.Scheduled when row.Kind != ExecutorKind.External:
                    (waiting ??= []).Add((row.Id, row.Priority, runAt));
                    break;
                case ExecutionState.Cancelling:
                    running.SignalCancel(row.Id);
                    break;
                case ExecutionState.Cancelled when row.From.IsWaiting():
                    dispatcher.Remove(row.HangfireJobId);
                    break;
            }
        }
        if (waiting is not null) await DispatchAsync(waiting, ct);
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
        await EnteredAsync(changed.Select(row => new EnteredState(row.Id, row.From, to, row.Kind, row.Priority, row.HangfireJobId)).ToList(), template.RunAt, ct);
        return changed;
    }

    /// <summary>
    /// A job store that cannot be reached does not undo the transition: the record is durable and waiting, and the
    /// <see cref="Workers.Reconciler"/> gives it a job once the store answers. Any other failure is a defect and surfaces.
    /// </summary>
    private async Task DispatchAsync(IReadOnlyList<(long Id, int Priority, DateTimeOffset? RunAt)> waiting, CancellationToken ct)
    {
        try
        {
            await dispatcher.DispatchManyAsync(waiting, time.GetUtcNow(), ct);
        }
        catch (Exception e) when (dispatcher.IsUnavailable(e))
        {
            logger.LogWarning(e, "Creating the jobs of {Count} executions that entered a queue failed; the reconciler will dispatch them", waiting.Count);
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

/// <summary>A record that entered a state, with what carrying out that state's meaning needs (<see cref="ExecutionTransitions.EnteredAsync"/>).</summary>
internal readonly record struct EnteredState(long Id, ExecutionState From, ExecutionState To, ExecutorKind Kind, int Priority, string? HangfireJobId);
