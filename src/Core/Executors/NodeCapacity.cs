using Microsoft.Extensions.Options;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;

namespace Taskdeck.Core.Executors;

/// <summary>Whether any node could ever run a task: this node's declared capacity and every live worker node's lease.</summary>
public sealed class NodeCapacity(INodeLeaseStore store, IOptions<TaskdeckOptions> options, TimeProvider time)
{
    /// <summary>Null when some node fits; otherwise why none does.</summary>
    public async Task<string?> WhyNoNodeFitsAsync(ResourceNeed need, CancellationToken ct = default)
    {
        if (need.IsNone) return null;
        var o = options.Value;
        var here = new ResourceNeed(o.Node.Cores, o.Node.MemoryMB, o.Node.Gpus);
        if (o.Node.RunsWorkers && need.FitsIn(here)) return null;
        var cutoff = time.GetUtcNow().AddSeconds(-o.Leases.ExpirySeconds);
        var live = (await store.ListNodesAsync(ct)).Where(n => n.IsLiveSince(cutoff) && n.WorkerCount > 0).ToList();
        if (live.Any(n => need.FitsIn(new ResourceNeed(n.Cores, n.MemoryMB, n.Gpus)))) return null;
        var largest = live.Select(n => $"{n.Id}: {new ResourceNeed(n.Cores, n.MemoryMB, n.Gpus)}")
            .Prepend(o.Node.RunsWorkers ? $"this node: {here}" : null).OfType<string>().ToList();
        return $"It asks for {need}, more than any worker node has ({(largest.Count == 0 ? "no live worker nodes" : string.Join("; ", largest))}).";
    }
}
