using Microsoft.EntityFrameworkCore;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Storage;

namespace Taskdeck.Data.Workers;

public sealed record RunningOnNode(long ExecutionId, string Name, ExecutionState State, DateTimeOffset? StartedAt, double? Progress);

public sealed record WorkerView(WorkerNode Node, IReadOnlyList<RunningOnNode> Running);

/// <summary>Nodes with their leases and what each runs now (executions Running or Cancelling with that node id).</summary>
public sealed class WorkerQueries(IDbContextFactory<TaskdeckDbContext> contexts)
{
    /// <summary>The last heartbeat a node wrote to its lease, or null when it has no lease row.</summary>
    public async Task<DateTimeOffset?> HeartbeatOfAsync(string nodeId, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.WorkerNodes.AsNoTracking().Where(n => n.Id == nodeId).Select(n => (DateTimeOffset?)n.HeartbeatAt).FirstOrDefaultAsync(ct);
    }

    public async Task<IReadOnlyList<WorkerView>> ListAsync(int runningPerNode = 50, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var nodes = await db.WorkerNodes.AsNoTracking().OrderByDescending(n => n.HeartbeatAt).Take(200).ToListAsync(ct);
        var result = new List<WorkerView>(nodes.Count);
        foreach (var node in nodes)
        {
            // A seek on (NodeId, State) per node: nodes are few, their running work bounded by worker count.
            var running = await RunningOn(db, node.Id, runningPerNode).ToListAsync(ct);
            result.Add(new WorkerView(node, running));
        }
        return result;
    }

    /// <summary>A seek on the (NodeId, State) index, which holds running and cancelling work only.</summary>
    internal static IQueryable<RunningOnNode> RunningOn(TaskdeckDbContext db, string nodeId, int take) =>
        db.Executions.AsNoTracking()
            .Where(e => e.NodeId == nodeId && (e.State == ExecutionState.Running || e.State == ExecutionState.Cancelling))
            .OrderBy(e => e.Id).Take(take)
            .Select(e => new RunningOnNode(e.Id, e.Name, e.State, e.StartedAt, e.Progress));
}
