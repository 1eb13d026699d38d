using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;

namespace Taskdeck.Core.Executors;

/// <summary>
/// Entering Cancelling on another node signals the work here as soon as the change feed brings the news (at once on
/// PostgreSQL, where a notify wakes the follower), through <see cref="RunningWork.SignalRequestedCancelsAsync"/>, as the
/// lease keeper's watch does when no news came.
/// </summary>
public sealed class RemoteCancelRelay(INodeLeaseStore store, RunningWork running, NodeIdentity node) : IRemoteChangeObserver
{
    public async Task OnRemoteChangesAsync(IReadOnlyList<StateChanged> changes, CancellationToken ct)
    {
        if (changes.Any(c => c.To == ExecutionState.Cancelling && running.IsRunningHere(c.ExecutionId)))
            await running.SignalRequestedCancelsAsync(store, node.Id, ct);
    }
}
