using System.Text.Json;
using System.Text.Json.Serialization;
using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Executions;

/// <summary>django-ray's vocabulary at the API edge; Core's states never leak out under their own names here.</summary>
public static class DjangoRay
{
    public static string State(ExecutionState state) => state switch
    {
        ExecutionState.Pending or ExecutionState.Scheduled or ExecutionState.Queued => "QUEUED",
        ExecutionState.Running => "RUNNING",
        ExecutionState.Cancelling => "CANCELLING",
        ExecutionState.Succeeded => "SUCCEEDED",
        ExecutionState.Failed or ExecutionState.TimedOut => "FAILED",
        ExecutionState.Cancelled => "CANCELLED",
        ExecutionState.Lost => "LOST",
        ExecutionState.Expired => "EXPIRED",
        _ => state.ToString().ToUpperInvariant(),
    };

    /// <summary>What reset accepts, in django-ray's words.</summary>
    public static readonly IReadOnlyList<string> ResettableStates =
        ExecutionStates.Retryable.Select(State).Distinct().ToList();

    /// <summary>
    /// django-ray's <c>attempt_number</c>: the attempt the execution is on. It starts at 1 (the model's default) before any
    /// attempt ran, and a retry raises it at once (django-ray increments it when it requeues), so work that waits shows the
    /// attempt it will run; Core counts only the attempts opened.
    /// </summary>
    public static int AttemptNumber(Execution e) => e.State.IsWaiting() ? e.AttemptCount + 1 : Math.Max(1, e.AttemptCount);

    /// <summary>Django's TaskResultStatus for <c>/api/tasks/{task_id}</c>.</summary>
    public static string TaskStatus(ExecutionState state) => state switch
    {
        ExecutionState.Running or ExecutionState.Cancelling => "RUNNING",
        ExecutionState.Succeeded => "SUCCESSFUL",
        var s when s.IsTerminal() => "FAILED",
        _ => "READY",
    };

    /// <summary>A state filter in django's vocabulary (or Core's own names); null when it names no state.</summary>
    public static IReadOnlyList<ExecutionState>? ParseStates(string value) => value.Trim().ToUpperInvariant() switch
    {
        "QUEUED" => [ExecutionState.Pending, ExecutionState.Scheduled, ExecutionState.Queued],
        "RUNNING" => [ExecutionState.Running],
        "CANCELLING" => [ExecutionState.Cancelling],
        "SUCCEEDED" => [ExecutionState.Succeeded],
        "FAILED" => [ExecutionState.Failed, ExecutionState.TimedOut],
        "CANCELLED" => [ExecutionState.Cancelled],
        "LOST" => [ExecutionState.Lost],
        "EXPIRED" => [ExecutionState.Expired],
        _ => Enum.TryParse<ExecutionState>(value, ignoreCase: true, out var own) ? [own] : null,
    };

    /// <param name="secrets">Given on the detail: the environment is shown, secret-looking values redacted.</param>
    public static ExecutionDto ToDto(Execution e, IReadOnlyList<Attempt>? attempts = null, IReadOnlyList<StateChange>? history = null,
        Core.Secrets.SecretOptions? secrets = null) => new()
    {
        Id = e.Id,
        TaskId = e.TaskId,
        CallablePath = e.Kind == ExecutorKind.Command ? string.Join(' ', e.Command) : e.Name,
        QueueName = e.Queue,
        State = State(e.State),
        TaskdeckState = e.State.ToString(),
        AttemptNumber = AttemptNumber(e),
        CreatedAt = e.CreatedAt,
        StartedAt = e.StartedAt,
        FinishedAt = e.FinishedAt,
        ResultData = e.ResultJson,
        ErrorMessage = e.ErrorMessage,
        Kind = e.Kind.ToString(),
        Priority = e.Priority,
        Tags = e.Tags,
        DagRunId = e.DagRunId,
        DagTaskName = e.DagTaskName,
        MaxRetries = e.MaxRetries,
        TimeoutSeconds = e.TimeoutSeconds,
        RunAt = e.RunAt,
        Progress = e.Progress,
        NodeId = e.NodeId,
        HangfireJobId = e.HangfireJobId,
        ScheduleName = e.ScheduleName,
        ScheduleSlot = e.ScheduleSlot,
        Environment = secrets is null ? null : Core.Secrets.SecretText.RedactEnvironment(secrets, e.Environment),
        Attempts = attempts?.Select(a => new AttemptDto(a.Number, a.NodeId, a.StartedAt, a.FinishedAt, a.Outcome.ToString(), a.Rc, a.Error)).ToList(),
        StateHistory = history?.Select(h => new StateChangeDto(h.At, h.From?.ToString(), h.To.ToString(), h.Transition, h.ActorName, h.Reason)).ToList(),
    };
}

/// <summary>An execution as django-ray's testproject shows it, plus Taskdeck's own fields.</summary>
public sealed record ExecutionDto
{
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("task_id")] public required string TaskId { get; init; }
    [JsonPropertyName("callable_path")] public required string CallablePath { get; init; }
    [JsonPropertyName("queue_name")] public required string QueueName { get; init; }
    [JsonPropertyName("state")] public required string State { get; init; }
    [JsonPropertyName("attempt_number")] public int AttemptNumber { get; init; }
    [JsonPropertyName("created_at")] public DateTimeOffset CreatedAt { get; init; }
    [JsonPropertyName("started_at")] public DateTimeOffset? StartedAt { get; init; }
    [JsonPropertyName("finished_at")] public DateTimeOffset? FinishedAt { get; init; }
    [JsonPropertyName("result_data")] public string? ResultData { get; init; }
    [JsonPropertyName("error_message")] public string? ErrorMessage { get; init; }
    [JsonPropertyName("taskdeck_state")] public required string TaskdeckState { get; init; }
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    [JsonPropertyName("priority")] public int Priority { get; init; }
    [JsonPropertyName("tags")] public IReadOnlyList<string> Tags { get; init; } = [];
    [JsonPropertyName("dag_run_id")] public long? DagRunId { get; init; }
    [JsonPropertyName("dag_task_name")] public string? DagTaskName { get; init; }
    [JsonPropertyName("max_retries")] public int MaxRetries { get; init; }
    [JsonPropertyName("timeout_seconds")] public int? TimeoutSeconds { get; init; }
    [JsonPropertyName("run_at")] public DateTimeOffset? RunAt { get; init; }
    [JsonPropertyName("progress")] public double? Progress { get; init; }
    [JsonPropertyName("node_id")] public string? NodeId { get; init; }
    [JsonPropertyName("hangfire_job_id")] public string? HangfireJobId { get; init; }
    /// <summary>The schedule that started it and the slot it was for (null when submitted directly).</summary>
    [JsonPropertyName("schedule_name")] public string? ScheduleName { get; init; }
    [JsonPropertyName("schedule_slot")] public DateTimeOffset? ScheduleSlot { get; init; }
    /// <summary>Taskdeck's own, on the detail only: the command's environment, values of secret-looking names shown as ***.</summary>
    [JsonPropertyName("environment")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<string>? Environment { get; init; }
    [JsonPropertyName("attempts")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<AttemptDto>? Attempts { get; init; }
    /// <summary>Taskdeck's own, on the detail only: every state change, with who asked for it when a person or token did.</summary>
    [JsonPropertyName("state_history")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<StateChangeDto>? StateHistory { get; init; }
}

/// <summary>One state change in Taskdeck's own state names; <c>by</c> is null for the engine's own transitions.</summary>
public sealed record StateChangeDto(
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("from")] string? From,
    [property: JsonPropertyName("to")] string To,
    [property: JsonPropertyName("transition")] string Transition,
    [property: JsonPropertyName("by")] string? By,
    [property: JsonPropertyName("reason")] string? Reason);

public sealed record AttemptDto(
    [property: JsonPropertyName("number")] int Number,
    [property: JsonPropertyName("node_id")] string? NodeId,
    [property: JsonPropertyName("started_at")] DateTimeOffset StartedAt,
    [property: JsonPropertyName("finished_at")] DateTimeOffset? FinishedAt,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("rc")] int? Rc,
    [property: JsonPropertyName("error")] string? Error);

public sealed record ExecutionListDto(
    [property: JsonPropertyName("tasks")] IReadOnlyList<ExecutionDto> Tasks,
    [property: JsonPropertyName("total")] int Total,
    [property: JsonPropertyName("queued")] int Queued,
    [property: JsonPropertyName("running")] int Running,
    [property: JsonPropertyName("succeeded")] int Succeeded,
    [property: JsonPropertyName("failed")] int Failed,
    [property: JsonPropertyName("expired")] int Expired,
    [property: JsonPropertyName("limit")] int Limit,
    [property: JsonPropertyName("returned_count")] int ReturnedCount,
    [property: JsonPropertyName("has_more")] bool HasMore,
    [property: JsonPropertyName("next_cursor")] string? NextCursor)
{
    [JsonPropertyName("truncated")] public bool Truncated => HasMore;
    [JsonPropertyName("truncation_reason")] public string? TruncationReason => HasMore ? "page_limit" : null;
}

/// <summary>Django's task result for <c>/api/tasks/{task_id}</c>.</summary>
public sealed record TaskResultDto(
    [property: JsonPropertyName("task_id")] string TaskId,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("attempt_number")] int AttemptNumber,
    [property: JsonPropertyName("enqueued_at")] DateTimeOffset EnqueuedAt,
    [property: JsonPropertyName("started_at")] DateTimeOffset? StartedAt,
    [property: JsonPropertyName("finished_at")] DateTimeOffset? FinishedAt,
    [property: JsonPropertyName("args")] IReadOnlyList<JsonElement> Args,
    [property: JsonPropertyName("kwargs")] JsonElement Kwargs);

/// <summary>Taskdeck's own submit: a handler with arguments, or a command.</summary>
public sealed record SubmitTaskRequest
{
    [JsonPropertyName("task")] public string? Task { get; init; }
    [JsonPropertyName("args")] public JsonElement? Args { get; init; }
    [JsonPropertyName("command")] public List<string>? Command { get; init; }
    [JsonPropertyName("environment")] public List<string>? Environment { get; init; }
    [JsonPropertyName("workingDirectory")] public string? WorkingDirectory { get; init; }
    [JsonPropertyName("queue")] public string? Queue { get; init; }
    [JsonPropertyName("priority")] public int? Priority { get; init; }
    [JsonPropertyName("maxRetries")] public int? MaxRetries { get; init; }
    [JsonPropertyName("retryIntervalSeconds")] public int? RetryIntervalSeconds { get; init; }
    [JsonPropertyName("exponentialBackoff")] public bool? ExponentialBackoff { get; init; }
    [JsonPropertyName("retryOn")] public string? RetryOn { get; init; }
    [JsonPropertyName("timeoutSeconds")] public int? TimeoutSeconds { get; init; }
    [JsonPropertyName("queueTimeoutSeconds")] public int? QueueTimeoutSeconds { get; init; }
    [JsonPropertyName("runAt")] public DateTimeOffset? RunAt { get; init; }
    [JsonPropertyName("tags")] public List<string>? Tags { get; init; }
}

public sealed record SubmitTaskResponse(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("task_id")] string TaskId,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("taskdeck_state")] string TaskdeckState);

/// <summary>Body of <c>POST /api/executions/reset</c>: which executions go back to the queue.</summary>
public sealed record ResetRequest
{
    [JsonPropertyName("state")] public string? State { get; init; }
    [JsonPropertyName("states")] public List<string>? States { get; init; }
    [JsonPropertyName("task_name")] public string? TaskName { get; init; }
    [JsonPropertyName("queue")] public string? Queue { get; init; }
    [JsonPropertyName("tag")] public string? Tag { get; init; }
    [JsonPropertyName("dag_run_id")] public long? DagRunId { get; init; }
    [JsonPropertyName("created_after")] public DateTimeOffset? CreatedAfter { get; init; }
    [JsonPropertyName("created_before")] public DateTimeOffset? CreatedBefore { get; init; }
    /// <summary>Required to reset with no filter at all: every resettable execution goes back to the queue.</summary>
    [JsonPropertyName("all")] public bool? All { get; init; }
}

/// <summary>
/// django-ray's bounded outcome of a cancel or retry request (<c>code</c> ACCEPTED, ALREADY_REQUESTED, …). The same
/// fields ride in the ProblemDetails of a 404 or 409, so a django-ray client reads one shape either way.
/// </summary>
public sealed record ActionOutcomeDto(
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("execution_id")] long ExecutionId,
    [property: JsonPropertyName("state")] string? State,
    [property: JsonPropertyName("attempt_number")] int? AttemptNumber,
    [property: JsonPropertyName("execution_generation")] int? ExecutionGeneration,
    [property: JsonPropertyName("next_action")] string NextAction,
    [property: JsonPropertyName("taskdeck_state")] string? TaskdeckState);

/// <summary>django-ray's <c>MessageSchema</c> (delete, reset), plus how many a reset touched.</summary>
public sealed record MessageDto([property: JsonPropertyName("message")] string Message)
{
    [JsonPropertyName("count")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? Count { get; init; }
    /// <summary>A reset too big to wait for: the bulk action carrying it out (<c>GET /api/executions/bulk/{id}</c>).</summary>
    [JsonPropertyName("bulk_action_id")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? BulkActionId { get; init; }
}

/// <summary>
/// Taskdeck's own bulk act on executions: <c>action</c> (cancel, retry, delete) on the listed <c>ids</c>, or on what the
/// filter fields match (<c>"all": true</c> for no filter at all).
/// </summary>
public sealed record BulkRequest
{
    [JsonPropertyName("action")] public string? Action { get; init; }
    [JsonPropertyName("ids")] public List<long>? Ids { get; init; }
    [JsonPropertyName("state")] public string? State { get; init; }
    [JsonPropertyName("task_name")] public string? TaskName { get; init; }
    [JsonPropertyName("queue")] public string? Queue { get; init; }
    [JsonPropertyName("tag")] public string? Tag { get; init; }
    [JsonPropertyName("dag_run_id")] public long? DagRunId { get; init; }
    [JsonPropertyName("created_after")] public DateTimeOffset? CreatedAfter { get; init; }
    [JsonPropertyName("created_before")] public DateTimeOffset? CreatedBefore { get; init; }
    [JsonPropertyName("all")] public bool? All { get; init; }
}

/// <summary>A bulk act as stored: what it will act on (<c>total</c>) and how far it got.</summary>
public sealed record BulkActionDto(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("total")] int Total,
    [property: JsonPropertyName("applied")] int Applied,
    [property: JsonPropertyName("skipped")] int Skipped,
    [property: JsonPropertyName("by")] string By,
    [property: JsonPropertyName("dag_run_id")] long? DagRunId,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("finished_at")] DateTimeOffset? FinishedAt)
{
    public static BulkActionDto From(Core.Bulk.BulkAction a) => new(a.Id, a.Kind.ToString().ToLowerInvariant(), a.Finished ? "done" : "running",
        a.Total, a.Applied, a.Skipped, a.ActorName, a.DagRunId, a.CreatedAt, a.FinishedAt);
}

/// <summary>django-ray's <c>StatsSchema</c> plus the states it does not list and Taskdeck's own breakdown.</summary>
public sealed record StatsDto(
    [property: JsonPropertyName("total")] int Total,
    [property: JsonPropertyName("queued")] int Queued,
    [property: JsonPropertyName("running")] int Running,
    [property: JsonPropertyName("succeeded")] int Succeeded,
    [property: JsonPropertyName("failed")] int Failed,
    [property: JsonPropertyName("expired")] int Expired,
    [property: JsonPropertyName("cancelled")] int Cancelled,
    [property: JsonPropertyName("lost")] int Lost,
    [property: JsonPropertyName("cancelling")] int Cancelling,
    [property: JsonPropertyName("by_taskdeck_state")] IReadOnlyDictionary<string, int> ByTaskdeckState);
