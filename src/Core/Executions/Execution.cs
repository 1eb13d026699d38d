namespace Taskdeck.Core.Executions;

public enum ExecutorKind
{
    /// <summary>A .NET handler registered by name.</summary>
    Handler = 0,
    /// <summary>A process: argv, environment, working folder.</summary>
    Command = 1,
    /// <summary>A worker outside Taskdeck drives it over the status API; no Hangfire job is made for it.</summary>
    External = 2,
}

/// <summary>Which failures an execution's automatic retries cover.</summary>
public enum RetryPolicy
{
    /// <summary>Every failure is retried while retries remain.</summary>
    AnyFailure = 0,
    /// <summary>Only failures whose error names a configured transient cause (OOMKilled, Evicted, …).</summary>
    TransientOnly = 1,
}

/// <summary>One task submitted: the source of truth for its state. A Hangfire job only says "run execution X".</summary>
public sealed class Execution
{
    public long Id { get; set; }
    /// <summary>The public, stable identifier (a GUID), as django's task result carries.</summary>
    public string TaskId { get; set; } = "";
    public ExecutorKind Kind { get; set; }
    /// <summary>Handler name, the command's executable, or the work-task type.</summary>
    public string Name { get; set; } = "";
    public string? ArgumentsJson { get; set; }
    public List<string> Command { get; set; } = [];
    public List<string> Environment { get; set; } = [];
    public string? WorkingDirectory { get; set; }
    public string Queue { get; set; } = "default";
    public int Priority { get; set; }
    public ExecutionState State { get; set; }
    /// <summary>Number of attempts opened so far; the current (or last) attempt's number.</summary>
    public int AttemptCount { get; set; }
    public int MaxRetries { get; set; }
    public int RetryIntervalSeconds { get; set; }
    public bool ExponentialBackoff { get; set; }
    public RetryPolicy RetryPolicy { get; set; }
    public int? TimeoutSeconds { get; set; }
    public DateTimeOffset? RunAt { get; set; }
    /// <summary>Queue deadline: still waiting past it → Expired.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? ResultJson { get; set; }
    public string? ErrorMessage { get; set; }
    /// <summary>0..1 while a handler reports progress.</summary>
    public double? Progress { get; set; }
    public string? ProgressMessage { get; set; }
    public List<string> Tags { get; set; } = [];
    public long? DagRunId { get; set; }
    public string? DagTaskName { get; set; }
    public bool IsGenerator { get; set; }
    /// <summary>The node that claimed the current attempt.</summary>
    public string? NodeId { get; set; }
    public string? HangfireJobId { get; set; }
    public double Cores { get; set; }
    public long MemoryMB { get; set; }
    public int Gpus { get; set; }
    /// <summary>The schedule that started it (its name, kept after the schedule is deleted) and the slot it was for.</summary>
    public string? ScheduleName { get; set; }
    public DateTimeOffset? ScheduleSlot { get; set; }

    public bool RetriesRemain => AttemptCount <= MaxRetries;
}

public enum LogStream
{
    Output = 0,
    Error = 1,
    Executor = 2,
}

/// <summary>One run of an execution. Keyed by (execution, number) so opening one needs no generated id.</summary>
public sealed class Attempt
{
    public long ExecutionId { get; set; }
    public int Number { get; set; }
    public string? NodeId { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    /// <summary>Running while open; then the state the attempt ended in.</summary>
    public ExecutionState Outcome { get; set; }
    public int? Rc { get; set; }
    public string? Error { get; set; }
}

/// <summary>A chunk of an attempt's log, appended while it runs.</summary>
public sealed class LogEntry
{
    public long Id { get; set; }
    public long ExecutionId { get; set; }
    public int AttemptNumber { get; set; }
    public LogStream Stream { get; set; }
    public DateTimeOffset At { get; set; }
    public string Text { get; set; } = "";
}

/// <summary>The history of an execution's state; its ids also serve as the cross-node change cursor.</summary>
public sealed class StateChange
{
    public long Id { get; set; }
    public long ExecutionId { get; set; }
    public DateTimeOffset At { get; set; }
    public ExecutionState? From { get; set; }
    public ExecutionState To { get; set; }
    public string Transition { get; set; } = "";
    public string? NodeId { get; set; }
    public string? Reason { get; set; }
    /// <summary>The person or token whose act made this change; null for the engine's own transitions.</summary>
    public string? ActorName { get; set; }
    /// <summary>
    /// The attempt the change belongs to (the execution's attempt count after it: the attempt a Claim opened, the one an end
    /// closed); null on rows written before the column existed.
    /// </summary>
    public int? AttemptNumber { get; set; }
}
