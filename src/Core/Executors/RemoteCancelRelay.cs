using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;

namespace Taskdeck.Core.Executors;

/// <summary>
/// Entering Cancelling on another node signals the work here as soon as the change feed brings the news (at once on
/// PostgreSQL, where a notify wakes the follower). The lease keeper's cancel watch stays the fallback.
/// </summary>
/// <remarks>
/// The change is not acted on as such: it may be late (a gap filled minutes after) and name an attempt that ended, so the
/// database is asked which records running here are Cancelling now, as the cancel watch does.
/// </remarks>
public sealed class RemoteCancelRelay(IExecutionStore store, RunningWork running, NodeIdentity node) : IRemoteChangeObserver
{
    public async Task OnRemoteChangesAsync(IReadOnlyList<StateChanged> changes, CancellationToken ct)
    {
        if (running.Count == 0 || !changes.Any(c => c.To == ExecutionState.Cancelling && running.IsRunningHere(c.ExecutionId))) return;
        foreach (var id in await store.FindCancellingOnNodeAsync(node.Id, ct))
            running.SignalCancel(id);
    }
}
