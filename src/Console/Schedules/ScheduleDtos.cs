using System.Text.Json;
using System.Text.Json.Serialization;
using Taskdeck.Core.Schedules;

namespace Taskdeck.Console.Schedules;

/// <summary>
/// Body of <c>POST /api/schedules</c> and <c>PUT /api/schedules/{name}</c>. What it starts speaks <c>POST /api/tasks</c>'s
/// field names: <c>task</c> + <c>args</c>, or <c>command</c> (+ <c>environment</c>, <c>workingDirectory</c>), or <c>dag</c>
/// (a daggy spec object).
/// </summary>
public sealed record ScheduleRequest
{
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    /// <summary>5 fields, or 6 with seconds first, or a macro (@daily, @hourly, …).</summary>
    [JsonPropertyName("cron")] public string? Cron { get; init; }
    /// <summary>IANA time zone id; UTC when absent.</summary>
    [JsonPropertyName("timeZone")] public string? TimeZone { get; init; }
    /// <summary>Skip (default), Allow, BufferOne or CancelPrevious.</summary>
    [JsonPropertyName("overlap")] public string? Overlap { get; init; }
    /// <summary>None, Latest (default) or All.</summary>
    [JsonPropertyName("catchUp")] public string? CatchUp { get; init; }
    [JsonPropertyName("enabled")] public bool? Enabled { get; init; }
    [JsonPropertyName("startAt")] public DateTimeOffset? StartAt { get; init; }
    [JsonPropertyName("endAt")] public DateTimeOffset? EndAt { get; init; }
    [JsonPropertyName("jitterSeconds")] public int? JitterSeconds { get; init; }
    [JsonPropertyName("task")] public string? Task { get; init; }
    [JsonPropertyName("args")] public JsonElement? Args { get; init; }
    [JsonPropertyName("command")] public List<string>? Command { get; init; }
    [JsonPropertyName("environment")] public List<string>? Environment { get; init; }
    [JsonPropertyName("workingDirectory")] public string? WorkingDirectory { get; init; }
    [JsonPropertyName("dag")] public JsonElement? Dag { get; init; }
    [JsonPropertyName("queue")] public string? Queue { get; init; }
    [JsonPropertyName("priority")] public int? Priority { get; init; }
    [JsonPropertyName("tags")] public List<string>? Tags { get; init; }
    [JsonPropertyName("maxRetries")] public int? MaxRetries { get; init; }
    [JsonPropertyName("retryIntervalSeconds")] public int? RetryIntervalSeconds { get; init; }
    [JsonPropertyName("timeoutSeconds")] public int? TimeoutSeconds { get; init; }
}

/// <summary>One upcoming slot: in the schedule's own zone and in UTC.</summary>
public sealed record FireTimeDto(
    [property: JsonPropertyName("local")] DateTimeOffset Local,
    [property: JsonPropertyName("utc")] DateTimeOffset Utc);

public sealed record ScheduleDto
{
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("cron")] public required string Cron { get; init; }
    [JsonPropertyName("cronDescription")] public required string CronDescription { get; init; }
    [JsonPropertyName("timeZone")] public required string TimeZone { get; init; }
    [JsonPropertyName("enabled")] public bool Enabled { get; init; }
    [JsonPropertyName("overlap")] public required string Overlap { get; init; }
    [JsonPropertyName("catchUp")] public required string CatchUp { get; init; }
    [JsonPropertyName("startAt")] public DateTimeOffset? StartAt { get; init; }
    [JsonPropertyName("endAt")] public DateTimeOffset? EndAt { get; init; }
    [JsonPropertyName("jitterSeconds")] public int JitterSeconds { get; init; }
    /// <summary>task, command or dag.</summary>
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    [JsonPropertyName("task")] public string? Task { get; init; }
    [JsonPropertyName("args")] public JsonElement? Args { get; init; }
    [JsonPropertyName("command")] public IReadOnlyList<string>? Command { get; init; }
    [JsonPropertyName("environment")] public IReadOnlyList<string>? Environment { get; init; }
    [JsonPropertyName("workingDirectory")] public string? WorkingDirectory { get; init; }
    [JsonPropertyName("dag")] public JsonElement? Dag { get; init; }
    [JsonPropertyName("queue")] public required string Queue { get; init; }
    [JsonPropertyName("priority")] public int Priority { get; init; }
    [JsonPropertyName("tags")] public IReadOnlyList<string> Tags { get; init; } = [];
    [JsonPropertyName("maxRetries")] public int MaxRetries { get; init; }
    [JsonPropertyName("retryIntervalSeconds")] public int RetryIntervalSeconds { get; init; }
    [JsonPropertyName("timeoutSeconds")] public int? TimeoutSeconds { get; init; }
    [JsonPropertyName("fromConfiguration")] public bool FromConfiguration { get; init; }
    [JsonPropertyName("createdAt")] public DateTimeOffset CreatedAt { get; init; }
    [JsonPropertyName("updatedAt")] public DateTimeOffset UpdatedAt { get; init; }
    /// <summary>The latest scheduled slot handled (fired, skipped, buffered or failed).</summary>
    [JsonPropertyName("lastSlot")] public DateTimeOffset? LastSlot { get; init; }
    [JsonPropertyName("nextFireTimes")] public IReadOnlyList<FireTimeDto> NextFireTimes { get; init; } = [];
    [JsonPropertyName("lastFiring")] public FiringDto? LastFiring { get; init; }
}

public sealed record FiringDto
{
    [JsonPropertyName("id")] public long Id { get; init; }
    [JsonPropertyName("slot")] public DateTimeOffset Slot { get; init; }
    [JsonPropertyName("firedAt")] public DateTimeOffset FiredAt { get; init; }
    /// <summary>Scheduled, CatchUp or Manual.</summary>
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    /// <summary>Started, Skipped, Buffered or Failed.</summary>
    [JsonPropertyName("outcome")] public required string Outcome { get; init; }
    [JsonPropertyName("executionId")] public long? ExecutionId { get; init; }
    [JsonPropertyName("dagRunId")] public long? DagRunId { get; init; }
    /// <summary>The state of the run it started, now (Taskdeck's execution state, or the DAG run's).</summary>
    [JsonPropertyName("runState")] public string? RunState { get; init; }
    [JsonPropertyName("nodeId")] public string? NodeId { get; init; }
    [JsonPropertyName("message")] public string? Message { get; init; }
}

public sealed record ScheduleListDto(
    [property: JsonPropertyName("schedules")] IReadOnlyList<ScheduleDto> Schedules,
    [property: JsonPropertyName("total")] int Total,
    [property: JsonPropertyName("limit")] int Limit,
    [property: JsonPropertyName("offset")] int Offset);

public sealed record FiringListDto(
    [property: JsonPropertyName("firings")] IReadOnlyList<FiringDto> Firings,
    [property: JsonPropertyName("next_cursor")] long? NextCursor);

public sealed record TriggerDto(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("firing")] FiringResultDto Firing);

public sealed record FiringResultDto(
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("executionId")] long? ExecutionId,
    [property: JsonPropertyName("dagRunId")] long? DagRunId,
    [property: JsonPropertyName("message")] string? Message);

/// <summary>Between the API's shapes and Core's schedule.</summary>
public static class ScheduleShapes
{
    public static string KindName(ScheduleTargetKind kind) => kind switch
    {
        ScheduleTargetKind.Command => "command",
        ScheduleTargetKind.Dag => "dag",
        _ => "task",
    };

    public static ScheduleDto ToDto(Schedule s, IReadOnlyList<DateTimeOffset> next, FiringView? last, Core.Secrets.SecretOptions secrets)
    {
        var zone = SafeZone(s.TimeZone);
        return new ScheduleDto
        {
            Id = s.Id, Name = s.Name, Description = s.Description, Cron = s.Cron, CronDescription = CronDescriber.Describe(s.Cron), TimeZone = s.TimeZone,
            Enabled = s.Enabled, Overlap = s.Overlap.ToString(), CatchUp = s.CatchUp.ToString(), StartAt = s.StartAt, EndAt = s.EndAt, JitterSeconds = s.JitterSeconds,
            Kind = KindName(s.Kind), Task = s.Task, Args = Parse(s.ArgsJson), Command = s.Kind == ScheduleTargetKind.Command ? s.Command : null,
            Environment = s.Kind == ScheduleTargetKind.Command ? Core.Secrets.SecretText.RedactEnvironment(secrets, s.Environment) : null, WorkingDirectory = s.WorkingDirectory, Dag = Parse(s.DagJson),
            Queue = s.Queue, Priority = s.Priority, Tags = s.Tags, MaxRetries = s.MaxRetries, RetryIntervalSeconds = s.RetryIntervalSeconds,
            TimeoutSeconds = s.TimeoutSeconds, FromConfiguration = s.FromConfiguration, CreatedAt = s.CreatedAt, UpdatedAt = s.UpdatedAt, LastSlot = s.LastSlot,
            NextFireTimes = next.Select(t => new FireTimeDto(TimeZoneInfo.ConvertTime(t, zone), t.ToUniversalTime())).ToList(),
            LastFiring = last is null ? null : ToDto(last),
        };
    }

    public static FiringDto ToDto(FiringView v) => new()
    {
        Id = v.Firing.Id, Slot = v.Firing.Slot, FiredAt = v.Firing.FiredAt, Kind = v.Firing.Kind.ToString(), Outcome = v.Firing.Outcome.ToString(),
        ExecutionId = v.Firing.ExecutionId, DagRunId = v.Firing.DagRunId, RunState = v.ExecutionState?.ToString() ?? v.DagRunState?.ToString(),
        NodeId = v.Firing.NodeId, Message = v.Firing.Message,
    };

    private static TimeZoneInfo SafeZone(string id)
    {
        try { return CronSchedule.FindZone(id); }
        catch (ScheduleDefinitionException) { return TimeZoneInfo.Utc; }
    }

    private static JsonElement? Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return null;
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
