namespace Taskdeck.Core.WorkTasks;

/// <summary>How a work-task type is run.</summary>
public enum WorkTaskBinding
{
    /// <summary>No binding: waits for a worker outside Taskdeck to drive it over the status route.</summary>
    External = 0,
    /// <summary>A registered .NET handler.</summary>
    Handler = 1,
    /// <summary>A spawned process that reports back over the status route.</summary>
    Spawned = 2,
}

/// <summary>The work-task API's own fields, kept beside the execution that runs it (one row per execution).</summary>
public sealed class WorkTask
{
    public long ExecutionId { get; set; }
    /// <summary>The public id clients use in <c>/api/worktasks/{id}</c>.</summary>
    public string WorkTaskId { get; set; } = "";
    public string Type { get; set; } = "";
    public string ProjectId { get; set; } = "";
    public WorkTaskBinding Binding { get; set; }
    public string TaskSpecJson { get; set; } = "{}";
    public string ResourceRequirementsJson { get; set; } = "{}";
    public string DataAccessJson { get; set; } = "{}";
    public string? OutputLocation { get; set; }
    public string? MetadataJson { get; set; }
    public string? RetryReason { get; set; }
    public string? KubernetesJobName { get; set; }
    public string? ClusterName { get; set; }
    /// <summary>
    /// The attempt whose spawned worker reported it started. It counts only while it equals the execution's current
    /// attempt, so a retry's new attempt reads spawned again without anything being reset.
    /// </summary>
    public int? WorkerStartedAttempt { get; set; }
    /// <summary>SHA-256 (hex) of the token the spawned worker of <see cref="WorkerTokenAttempt"/> was given; never the token itself.</summary>
    public string? WorkerTokenHash { get; set; }
    /// <summary>The attempt whose worker holds the token: it is worth something only while that attempt runs.</summary>
    public int? WorkerTokenAttempt { get; set; }
}
