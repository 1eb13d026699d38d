namespace Taskdeck.Core.Dags;

public enum DagRunState { Queued = 0, Running = 1, Completed = 2, Errored = 3, Killed = 4 }

/// <summary>A run of a DAG spec: its tasks are executions (with <c>DagRunId</c>), joined by <see cref="DagEdge"/>s.</summary>
public sealed class DagRun
{
    public long Id { get; set; }
    public string Tag { get; set; } = "";
    public DagRunState State { get; set; }
    /// <summary>The spec as submitted.</summary>
    public string SpecJson { get; set; } = "{}";
    /// <summary>The run's parameters (name → values), used again when a generator adds tasks.</summary>
    public string ParametersJson { get; set; } = "{}";
    /// <summary>
    /// Whether the run may start commands beyond those its spec names: its submitter held the <c>commands</c> scope, or the
    /// spec itself runs one (which needed that scope to be submitted). A generator's output is checked against it, so a
    /// DAG of handlers submitted with <c>submit</c> alone cannot grow a process through a handler's output.
    /// </summary>
    public bool MayRunCommands { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>The schedule that started it (its name, kept after the schedule is deleted) and the slot it was for.</summary>
    public string? ScheduleName { get; set; }
    public DateTimeOffset? ScheduleSlot { get; set; }
}

public sealed class DagRunStateChange
{
    public long Id { get; set; }
    public long DagRunId { get; set; }
    public DateTimeOffset At { get; set; }
    public DagRunState State { get; set; }
}

/// <summary>Parent → child: the child may start once every parent has succeeded.</summary>
public sealed class DagEdge
{
    public long DagRunId { get; set; }
    public long ParentExecutionId { get; set; }
    public long ChildExecutionId { get; set; }
}
