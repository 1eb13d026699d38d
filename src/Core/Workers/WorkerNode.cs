namespace Taskdeck.Core.Workers;

/// <summary>A node's lease: it is alive while its heartbeat is younger than the expiry.</summary>
public sealed class WorkerNode
{
    public string Id { get; set; } = "";
    public string HostName { get; set; } = "";
    public int ProcessId { get; set; }
    public string Roles { get; set; } = "";
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset HeartbeatAt { get; set; }
    public double Cores { get; set; }
    public long MemoryMB { get; set; }
    public int Gpus { get; set; }
    public int WorkerCount { get; set; }
    /// <summary>Executions running on it at the last heartbeat.</summary>
    public int RunningCount { get; set; }
    /// <summary>Set when the node stopped gracefully.</summary>
    public DateTimeOffset? StoppedAt { get; set; }

    /// <summary>Running and holding its lease: not stopped, and heartbeating since <paramref name="cutoff"/> (now minus the lease's expiry).</summary>
    public bool IsLiveSince(DateTimeOffset cutoff) => StoppedAt is null && HeartbeatAt >= cutoff;
}

/// <summary>This process's node id: host, pid and a random suffix, so a restarted process never inherits a lease.</summary>
public sealed class NodeIdentity
{
    public NodeIdentity(Microsoft.Extensions.Options.IOptions<TaskdeckOptions> options)
    {
        HostName = options.Value.Node.Name ?? System.Environment.MachineName;
        Id = $"{HostName}:{System.Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..6]}";
    }

    public string Id { get; }
    public string HostName { get; }
}
