namespace Taskdeck.Core.Executions;

/// <summary>What a caller asks to run. Validated by <see cref="ExecutionService.SubmitAsync"/>.</summary>
public sealed record NewExecution
{
    public ExecutorKind Kind { get; init; }
    public required string Name { get; init; }
    /// <summary>The public id; a new GUID when not given.</summary>
    public string? TaskId { get; init; }
    public string? ArgumentsJson { get; init; }
    public IReadOnlyList<string> Command { get; init; } = [];
    public IReadOnlyList<string> Environment { get; init; } = [];
    public string? WorkingDirectory { get; init; }
    public string Queue { get; init; } = "default";
    public int Priority { get; init; }
    public int MaxRetries { get; init; }
    public int RetryIntervalSeconds { get; init; }
    public bool ExponentialBackoff { get; init; }
    public RetryPolicy RetryPolicy { get; init; }
    public int? TimeoutSeconds { get; init; }
    public DateTimeOffset? RunAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public long? DagRunId { get; init; }
    public string? DagTaskName { get; init; }
    public bool IsGenerator { get; init; }
    /// <summary>DAG tasks with parents start Pending; nothing else should.</summary>
    public bool WaitForParents { get; init; }
    public double Cores { get; init; }
    public long MemoryMB { get; init; }
    public int Gpus { get; init; }
    /// <summary>The schedule that started it, and the slot it was for.</summary>
    public string? ScheduleName { get; init; }
    public DateTimeOffset? ScheduleSlot { get; init; }
}

public sealed record TransitionCommand(long ExecutionId, Transition Transition)
{
    public string? NodeId { get; init; }
    /// <summary>Why: kept in the state history and, for a closing attempt, as its error.</summary>
    public string? Reason { get; init; }
    /// <summary>Who asked for it ("by alice" in the history): set for operator acts, null for the engine's own.</summary>
    public string? ActorName { get; init; }
    public string? ResultJson { get; init; }
    public string? ErrorMessage { get; init; }
    public DateTimeOffset? RunAt { get; init; }
    /// <summary>
    /// For a back-off: the record is due this long after the transition itself (RunAt is set from the transition's
    /// time), so the pause between one attempt's end and the next start is never shorter than asked.
    /// </summary>
    public TimeSpan? RunAfter { get; init; }
    public int? Rc { get; init; }
    /// <summary>
    /// Guards a worker's closing transition against a newer attempt: a worker presumed dead (Lost, re-claimed by
    /// another node) must not finish attempt 2 with attempt 1's outcome.
    /// </summary>
    public int? ExpectedAttempt { get; init; }
    /// <summary>
    /// A claim's Hangfire job, stored with it when given: the job the worker runs it in
    /// (<see cref="Dispatch.HangfireQueue.CurrentJobFilter"/> says why every claim names it).
    /// </summary>
    public string? HangfireJobId { get; init; }
}

public sealed record TransitionResult(
    long ExecutionId,
    Transition Transition,
    bool Applied,
    /// <summary>The state before (when applied) or the state that refused it; null when the record does not exist.</summary>
    ExecutionState? FoundState,
    ExecutionState? NewState,
    int AttemptNumber,
    DateTimeOffset At,
    long? DagRunId)
{
    /// <summary>The record's priority, read by the same statement: where a record that entered a queue is sent.</summary>
    public int Priority { get; init; }
    /// <summary>The record's executor, read by the same statement: an external worker's record waits for it, not for a job.</summary>
    public ExecutorKind Kind { get; init; }
    /// <summary>The record's job, read by the same statement: a waiting record that ends has its job dropped.</summary>
    public string? HangfireJobId { get; init; }

    public bool NotFound => FoundState is null;

    public string Describe() => Applied
        ? $"execution {ExecutionId}: {FoundState} → {NewState}"
        : NotFound
            ? $"execution {ExecutionId} does not exist"
            : $"execution {ExecutionId} is {FoundState}; {Transition} is allowed only from {string.Join(", ", StateMachine.Rule(Transition).From)}";
}
