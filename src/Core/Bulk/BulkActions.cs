using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;

namespace Taskdeck.Core.Bulk;

/// <summary>
/// Acts on many records at linear cost, off the request: an act is stored first (<see cref="IBulkActionStore"/>), answered
/// with what it will act on, then carried through here in batches of <see cref="BatchSize"/> ids — each batch one
/// set-based transition through the state machine (<see cref="ExecutionTransitions.ApplyManyAsync"/>), so memory holds a
/// batch, never the run. A request that goes away does not stop it; a node that stops leaves it to the next node (or to
/// itself after a restart), which resumes from the stored cursor.
/// </summary>
public sealed class BulkActions(
    IBulkActionStore actions,
    IExecutionReader executions,
    IExecutionDeleter deleter,
    ExecutionTransitions transitions,
    ExecutionService service,
    ExecutionEvents events,
    IDagStore dags,
    DagScheduler scheduler,
    NodeIdentity node,
    IAuditTrail audit,
    IOptions<TaskdeckOptions> options,
    TimeProvider time,
    ILogger<BulkActions> logger) : BackgroundService
{
    public const int BatchSize = 1000;
    /// <summary>A kill sweeps its run again while tasks released meanwhile (by a parent finishing) still wait, at most this often.</summary>
    private const int MaxKillPasses = 5;
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);
    /// <summary>How long a caller that waits for a small act (<see cref="StartAsync"/>) waits at most before answering "in the background".</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FinishedPoll = TimeSpan.FromMilliseconds(50);

    private readonly ConcurrentDictionary<long, Task> _running = new();

    private bool RunsHere => options.Value.Node.RunsWorkers;

    /// <summary>
    /// Stores the act as <paramref name="actor"/>'s (claimed by this node when it runs work, else left for one that does)
    /// and starts it. <see cref="BulkAction.Total"/> must already say what it will act on. An act of at most
    /// <paramref name="waitIfAtMost"/> records is waited for (at most <see cref="MaxWait"/>); <c>Finished</c> says whether
    /// it was done by then, and the act is then the stored one with its counts.
    /// </summary>
    public async Task<(BulkAction Action, bool Finished)> StartAsync(BulkAction draft, Actor actor, int? waitIfAtMost = null, CancellationToken ct = default) =>
        (await StartIfAsync(draft, actor, null, waitIfAtMost, ct))!.Value;

    /// <summary>
    /// <see cref="StartAsync"/>, with <paramref name="proceed"/> asked once the act is stored and before anyone carries it
    /// out: false (or a failure) withdraws it — finished with nothing applied — and the answer is null.
    /// </summary>
    /// <remarks>
    /// A DAG restart sends its run back to QUEUED here: every node that reads the run QUEUED can then also read the act
    /// unfinished, until its tasks are queued again (see <see cref="DagScheduler.RecomputeAsync"/>). Meanwhile the act is
    /// held by this node and kept from this node's own look-out for acts to take up.
    /// </remarks>
    public async Task<(BulkAction Action, bool Finished)?> StartIfAsync(BulkAction draft, Actor actor, Func<CancellationToken, Task<bool>>? proceed,
        int? waitIfAtMost = null, CancellationToken ct = default)
    {
        (draft.ActorName, draft.ActorKind, draft.ActorAddress) = (actor.Name, actor.Kind, actor.Address);
        var now = time.GetUtcNow();
        draft.CreatedAt = draft.UpdatedAt = now;
        if (proceed is null)
        {
            draft.NodeId = RunsHere ? node.Id : null;
            // Not the request's token: a client that goes away does not stop the act.
            draft.Id = await actions.CreateAsync(draft, CancellationToken.None);
            if (RunsHere) _ = Run(draft);
        }
        else
        {
            draft.NodeId = node.Id;
            await _taking.WaitAsync(ct);
            try
            {
                draft.Id = await actions.CreateAsync(draft, CancellationToken.None);
                var go = false;
                try { go = await proceed(CancellationToken.None); }
                finally
                {
                    if (!go) await actions.FinishAsync(draft.Id, 0, 0, time.GetUtcNow(), CancellationToken.None);
                }
                if (!go) return null;
                if (RunsHere) _ = Run(draft);
                else await actions.ReleaseAsync(draft.Id, node.Id, CancellationToken.None);
            }
            finally { _taking.Release(); }
        }
        if (draft.Total <= waitIfAtMost && await WaitAsync(draft.Id, MaxWait, ct) is { Finished: true } done)
            return (done, true);
        return (draft, false);
    }

    /// <summary>Held by the look-out for acts to take up while it looks, and by <see cref="StartIfAsync"/> until an act may be carried out.</summary>
    private readonly SemaphoreSlim _taking = new(1, 1);

    /// <summary>Waits (at most <paramref name="max"/>) for the act to finish; the stored act as it stands then.</summary>
    public async Task<BulkAction?> WaitAsync(long id, TimeSpan max, CancellationToken ct = default)
    {
        if (_running.TryGetValue(id, out var task))
        {
            try { await task.WaitAsync(max, ct); }
            catch (TimeoutException) { }
        }
        else
        {
            var until = time.GetUtcNow() + max;
            while (time.GetUtcNow() < until && await actions.FindAsync(id, ct) is { Finished: false })
                await Task.Delay(FinishedPoll, time, ct);
        }
        return await actions.FindAsync(id, ct);
    }

    public Task<BulkAction?> FindAsync(long id, CancellationToken ct = default) => actions.FindAsync(id, ct);

    public Task<BulkAction?> UnfinishedForRunAsync(long dagRunId, CancellationToken ct = default) => actions.UnfinishedForRunAsync(dagRunId, ct);

    private Task Run(BulkAction action) =>
        _running.GetOrAdd(action.Id, id => Task.Run(async () =>
        {
            try { await CarryOutAsync(action, _stopping.Token); }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested) { }
            catch (Exception e)
            {
                // Left unfinished and held by this node: the loop takes it up again after a pause.
                logger.LogError(e, "Bulk action {Id} ({Kind}) failed at phase {Phase}, cursor {LastId}; it will be resumed", action.Id, action.Kind, action.Phase, action.LastId);
            }
            finally { _running.TryRemove(id, out var _); }
        }));

    private readonly CancellationTokenSource _stopping = new();

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await base.StopAsync(cancellationToken);
        try { await Task.WhenAll(_running.Values).WaitAsync(cancellationToken); } catch (Exception) { }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!RunsHere) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _taking.WaitAsync(stoppingToken);
                try
                {
                    var cutoff = time.GetUtcNow() - TimeSpan.FromSeconds(options.Value.Leases.ExpirySeconds);
                    foreach (var action in await actions.ClaimableAsync(node.Id, cutoff, stoppingToken))
                    {
                        if (_running.ContainsKey(action.Id)) continue;
                        if (action.NodeId == node.Id || await actions.ClaimAsync(action.Id, node.Id, cutoff, stoppingToken))
                        {
                            logger.LogInformation("Taking up bulk action {Id} ({Kind}) at phase {Phase}, after id {LastId}", action.Id, action.Kind, action.Phase, action.LastId);
                            _ = Run(action);
                        }
                    }
                }
                finally { _taking.Release(); }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Looking for bulk actions to take up failed; will try again");
            }
            try { await Task.Delay(PollInterval, time, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    private async Task CarryOutAsync(BulkAction a, CancellationToken ct)
    {
        // The records acted on, for the audit entry (which keeps at most AuditRecord.MaxIds of them; its count is all).
        var touched = new List<long>();
        var by = a.Actor.HistoryName;
        switch (a.Kind)
        {
            case BulkActionKind.KillDagRun:
                while (a.Phase < MaxKillPasses)
                {
                    await PassAsync(a, touched, (after, token) => dags.RunTaskIdsAsync(a.DagRunId!.Value, after, BatchSize, ExecutionStates.NotEnded, token),
                        (ids, token) => CancelAsync(ids, a.Reason ?? "the DAG run was killed", by, token), ct);
                    // A parent that finished while the pass went by may have released a child behind the cursor: sweep again.
                    if (await dags.CountTasksAsync(a.DagRunId!.Value, ExecutionStates.Waiting, ct) == 0) break;
                    await NextPhaseAsync(a, ct);
                }
                await scheduler.RecomputeAsync(a.DagRunId!.Value, ct);
                break;
            case BulkActionKind.RestartDagRun:
                var run = a.DagRunId!.Value;
                // Those that must wait go back first, so a retried parent that succeeds at once finds its children Pending.
                if (a.Phase == 0)
                {
                    await PassAsync(a, touched, (after, token) => dags.RunTaskIdsAsync(run, after, BatchSize, ExecutionStates.Retryable, token), async (ids, token) =>
                    {
                        var blocked = await dags.WithUnsucceededParentAsync(ids, token);
                        var moved = await transitions.ApplyManyAsync(new TransitionCommand(0, Transition.Rewait) { Reason = "DAG run restarted; waits for its parents", ActorName = by }, blocked, token);
                        return (moved.Select(m => m.Id).ToList(), 0);
                    }, ct);
                    await NextPhaseAsync(a, ct);
                }
                if (a.Phase == 1)
                {
                    await PassAsync(a, touched, (after, token) => dags.RunTaskIdsAsync(run, after, BatchSize, ExecutionStates.Retryable, token),
                        (ids, token) => RetryAsync(ids, a.Reason ?? "DAG run restarted", by, token), ct);
                    await NextPhaseAsync(a, ct);
                }
                if (a.Phase == 2)
                {
                    await PassAsync(a, touched, (after, token) => dags.RunTaskIdsAsync(run, after, BatchSize, [ExecutionState.Pending], token), async (ids, token) =>
                    {
                        var blocked = (await dags.WithUnsucceededParentAsync(ids, token)).ToHashSet();
                        await transitions.ApplyManyAsync(new TransitionCommand(0, Transition.Release) { Reason = "every parent succeeded" },
                            ids.Where(i => !blocked.Contains(i)).ToList(), token);
                        return ([], 0);
                    }, ct);
                }
                break;
            case BulkActionKind.Cancel:
                await PassAsync(a, touched, Source(a), (ids, token) => CancelAsync(ids, a.Reason ?? "cancelled in bulk", by, token), ct);
                break;
            case BulkActionKind.Retry or BulkActionKind.Reset:
                await PassAsync(a, touched, Source(a), (ids, token) => RetryAsync(ids, a.Reason ?? (a.Kind == BulkActionKind.Reset ? "reset by filter" : "retried in bulk"), by, token), ct);
                break;
            case BulkActionKind.Delete:
                await PassAsync(a, touched, Source(a), (ids, token) => DeleteAsync(ids, by, token), ct);
                break;
        }
        if (AuditAction(a.Kind) is { } audited)
            await audit.RecordAsync(new AuditRecord(a.Actor, audited, a.Applied == a.Total && a.Total > 0 ? AuditOutcome.Applied : AuditRecord.OutcomeOf(a.Applied, a.Total))
            {
                RecordType = AuditRecordTypes.Execution, RecordIds = touched.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(),
                Count = a.Applied, Filter = a.FilterJson,
                Reason = $"bulk action {a.Id}: {a.Total} matched, {a.Applied} {Done(a.Kind)}" + (a.Skipped > 0 ? $", {a.Skipped} left as they were (ended, started or gone meanwhile)" : ""),
            }, CancellationToken.None);
        a.FinishedAt = time.GetUtcNow();
        await actions.FinishAsync(a.Id, a.Applied, a.Skipped, a.FinishedAt.Value, CancellationToken.None);
        logger.LogInformation("Bulk action {Id} ({Kind}) finished: {Applied} applied, {Skipped} skipped of {Total}", a.Id, a.Kind, a.Applied, a.Skipped, a.Total);
        // Only now may the run settle ERRORED: until the act is finished a recompute leaves a restarted run as it is.
        if (a.Kind == BulkActionKind.RestartDagRun) await scheduler.RecomputeAsync(a.DagRunId!.Value, CancellationToken.None);
    }

    private async Task NextPhaseAsync(BulkAction a, CancellationToken ct)
    {
        a.Phase++;
        a.LastId = 0;
        await actions.AdvanceAsync(a.Id, a.Phase, a.LastId, a.Applied, a.Skipped, time.GetUtcNow(), ct);
    }

    /// <summary>
    /// The records an execution act names: its ids (stored distinct and in id order by <see cref="BulkAction.SetIds"/>;
    /// each batch starts at a binary search for the cursor), or its filter.
    /// </summary>
    private Func<long, CancellationToken, Task<IReadOnlyList<long>>> Source(BulkAction a)
    {
        if (a.IdsJson is { } json)
        {
            var ids = JsonSerializer.Deserialize<long[]>(json) ?? [];
            return (after, _) =>
            {
                var from = Array.BinarySearch(ids, after);
                from = from >= 0 ? from + 1 : ~from;
                return Task.FromResult<IReadOnlyList<long>>(ids[from..Math.Min(ids.Length, from + BatchSize)]);
            };
        }
        var filter = ExecutionFilter.FromJson(a.FilterJson);
        if (a.Kind == BulkActionKind.Reset)
        {
            if (filter.Resettable() is not { } resettable) return (_, _) => Task.FromResult<IReadOnlyList<long>>([]);
            filter = resettable;
        }
        return (after, token) => executions.FindIdsAfterAsync(filter, after, BatchSize, token);
    }

    /// <summary>One pass from the stored cursor to the end, a batch at a time, the cursor stored after each.</summary>
    private async Task PassAsync(BulkAction a, List<long> touched, Func<long, CancellationToken, Task<IReadOnlyList<long>>> next,
        Func<IReadOnlyList<long>, CancellationToken, Task<(IReadOnlyList<long> Applied, int Skipped)>> act, CancellationToken ct)
    {
        while (true)
        {
            var ids = await next(a.LastId, ct);
            if (ids.Count == 0) return;
            var (applied, skipped) = await act(ids, ct);
            a.Applied += applied.Count;
            foreach (var id in applied)
                if (touched.Count < AuditRecord.MaxIds) touched.Add(id);
            a.Skipped += skipped;
            a.LastId = ids[^1];
            await actions.AdvanceAsync(a.Id, a.Phase, a.LastId, a.Applied, a.Skipped, time.GetUtcNow(), ct);
            if (ids.Count < BatchSize) return;
        }
    }

    /// <summary>
    /// Waiting records end Cancelled in one statement, running ones are asked to stop in another (entering Cancelling
    /// signals an attempt running here, as a single cancel does); what moved between the two goes the one-record way.
    /// </summary>
    private async Task<(IReadOnlyList<long>, int)> CancelAsync(IReadOnlyList<long> ids, string reason, string? by, CancellationToken ct)
    {
        var cancelled = await transitions.ApplyManyAsync(new TransitionCommand(0, Transition.CancelWaiting) { Reason = reason, ActorName = by }, ids, ct);
        var done = cancelled.Select(c => c.Id).ToHashSet();
        var requested = await transitions.ApplyManyAsync(new TransitionCommand(0, Transition.RequestCancel) { Reason = reason, ActorName = by },
            ids.Where(i => !done.Contains(i)).ToList(), ct);
        done.UnionWith(requested.Select(r => r.Id));
        var applied = ids.Where(done.Contains).ToList();
        var skipped = 0;
        var rest = ids.Where(i => !done.Contains(i)).ToList();
        var states = await executions.StatesAsync(rest, ct);
        skipped += rest.Count - states.Count; // deleted meanwhile
        foreach (var (id, state) in states)
        {
            if (state.IsTerminal()) { skipped++; continue; }
            // Cancelling already, or started between the statements: the one-record path answers it.
            if ((await service.CancelCoreAsync(id, reason, by, ct)).Done) applied.Add(id); else skipped++;
        }
        return (applied, skipped);
    }

    private async Task<(IReadOnlyList<long>, int)> RetryAsync(IReadOnlyList<long> ids, string reason, string? by, CancellationToken ct)
    {
        var retried = await transitions.ApplyManyAsync(new TransitionCommand(0, Transition.Retry) { Reason = reason, ActorName = by }, ids, ct);
        return (retried.Select(r => r.Id).ToList(), ids.Count - retried.Count);
    }

    private async Task<(IReadOnlyList<long>, int)> DeleteAsync(IReadOnlyList<long> ids, string? by, CancellationToken ct)
    {
        await transitions.ApplyManyAsync(new TransitionCommand(0, Transition.CancelWaiting) { Reason = "cancelled to be deleted", ActorName = by }, ids, ct);
        var deleted = await deleter.DeleteTerminalManyAsync(ids, ct);
        var now = time.GetUtcNow();
        foreach (var id in deleted) events.Publish(new ExecutionDeleted(id, now));
        return (deleted, ids.Count - deleted.Count);
    }

    /// <summary>An act on executions is one audit entry, written when it is done (a DAG kill or restart is audited as the run's act when asked).</summary>
    private static string? AuditAction(BulkActionKind kind) => kind switch
    {
        BulkActionKind.Cancel => AuditActions.Cancel,
        BulkActionKind.Retry => AuditActions.Retry,
        BulkActionKind.Delete => AuditActions.Delete,
        BulkActionKind.Reset => AuditActions.Reset,
        _ => null,
    };

    private static string Done(BulkActionKind kind) => kind switch
    {
        BulkActionKind.Cancel => "cancelled",
        BulkActionKind.Delete => "deleted",
        BulkActionKind.Reset => "reset",
        _ => "retried",
    };
}
