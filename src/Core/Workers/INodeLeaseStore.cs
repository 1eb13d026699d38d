using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Workers;

/// <summary>Nodes' leases (a heartbeat row per node) and the running work each node holds.</summary>
public interface INodeLeaseStore
{
    Task HeartbeatAsync(WorkerNode node, CancellationToken ct = default);

    Task<IReadOnlyList<WorkerNode>> ListNodesAsync(CancellationToken ct = default);

    /// <summary>Running or Cancelling records whose node has no live lease.</summary>
    Task<IReadOnlyList<(long Id, ExecutionState State, int Attempt)>> FindOnDeadNodesAsync(DateTimeOffset leaseCutoff, CancellationToken ct = default);

    /// <summary>Running or Cancelling records that name <paramref name="nodeId"/> as their worker, claimed before <paramref name="claimedBefore"/>.</summary>
    Task<IReadOnlyList<(long Id, ExecutionState State, int Attempt)>> FindActiveOnNodeAsync(string nodeId, DateTimeOffset claimedBefore, CancellationToken ct = default);

    /// <summary>Records whose cancel was asked for (Cancelling) and that <paramref name="nodeId"/> runs.</summary>
    Task<IReadOnlyList<long>> FindCancellingOnNodeAsync(string nodeId, CancellationToken ct = default);
}
