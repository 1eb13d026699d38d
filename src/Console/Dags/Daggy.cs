using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dags;

namespace Taskdeck.Console.Dags;

/// <summary>
/// daggy's vocabulary and shapes (seed 002) at the API edge. Times are nanoseconds since the Unix epoch, as strings;
/// <c>cores</c> and <c>memoryMB</c> are strings; run and task states are upper-case names.
/// </summary>
public static class Daggy
{
    public static string TaskState(ExecutionState state) => state switch
    {
        ExecutionState.Pending or ExecutionState.Queued => "QUEUED",
        ExecutionState.Scheduled => "RETRY",
        ExecutionState.Running or ExecutionState.Cancelling => "RUNNING",
        ExecutionState.Succeeded => "COMPLETED",
        ExecutionState.Cancelled => "KILLED",
        _ => "ERRORED",
    };

    public static string RunState(DagRunState state) => state.ToString().ToUpperInvariant();

    public static DagRunState? ParseRunState(string value) =>
        Enum.TryParse<DagRunState>(value, ignoreCase: true, out var state) && Enum.IsDefined(state) && !int.TryParse(value, out _) ? state : null;

    /// <summary>Nanoseconds since the epoch; storage keeps microseconds, so the last three digits are zero.</summary>
    public static string Time(DateTimeOffset at) => ((at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100).ToString(CultureInfo.InvariantCulture);

    /// <summary>A closed attempt: rc is the exit code, else 0 for a success and -1 for any other end.</summary>
    public static DaggyAttempt ToAttempt(Attempt a, string output, string error, string executor) =>
        new(Time(a.StartedAt), Time(a.FinishedAt!.Value), a.Rc ?? (a.Outcome == ExecutionState.Succeeded ? 0 : -1), output, error, executor);

    /// <param name="parents">The parents' names in ordinal order, as daggy lists them.</param>
    /// <param name="children">The children's names in ordinal order.</param>
    public static DaggyTask ToTask(Execution e, IReadOnlyList<string> parents, IReadOnlyList<string> children, Core.Secrets.SecretOptions secrets)
    {
        var handler = e.Kind == ExecutorKind.Handler;
        var job = new DaggyJob(
            Core.Secrets.SecretText.RedactEnvironment(secrets, e.Environment),
            e.MemoryMB.ToString(CultureInfo.InvariantCulture),
            e.Cores.ToString("0.###", CultureInfo.InvariantCulture),
            handler ? null : e.Command,
            handler ? e.Name : null,
            handler ? (e.ArgumentsJson is { } json ? JsonDocument.Parse(json).RootElement : JsonDocument.Parse("{}").RootElement) : null);
        return new DaggyTask(e.MaxRetries, e.RetryIntervalSeconds, job, children, parents, e.IsGenerator);
    }

    public static DaggyRunSummary ToSummary(DagRunSummary s) => new(
        s.Run.Id, s.Run.Tag, RunState(s.Run.State), Time(s.Run.CreatedAt), Time(s.LastUpdate),
        s.Counts.GroupBy(c => TaskState(c.Key)).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(c => c.Value)))
    {
        ScheduleName = s.Run.ScheduleName,
        ScheduleSlot = s.Run.ScheduleSlot,
    };
}

public sealed record DaggyRunSummary(
    [property: JsonPropertyName("runID")] long RunId,
    [property: JsonPropertyName("tag")] string Tag,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("startTime")] string StartTime,
    [property: JsonPropertyName("lastUpdate")] string LastUpdate,
    [property: JsonPropertyName("taskCounts")] Dictionary<string, int> TaskCounts)
{
    /// <summary>Taskdeck's own: the schedule that started the run, and its slot (absent for runs submitted directly).</summary>
    [JsonPropertyName("scheduleName")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? ScheduleName { get; init; }
    [JsonPropertyName("scheduleSlot")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? ScheduleSlot { get; init; }
}

public sealed record DaggyJob(
    [property: JsonPropertyName("environment")] IReadOnlyList<string> Environment,
    [property: JsonPropertyName("memoryMB")] string MemoryMB,
    [property: JsonPropertyName("cores")] string Cores,
    [property: JsonPropertyName("command"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Command,
    [property: JsonPropertyName("task"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Task,
    [property: JsonPropertyName("args"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Args);

public sealed record DaggyTask(
    [property: JsonPropertyName("maxRetries")] int MaxRetries,
    [property: JsonPropertyName("retryIntervalSeconds")] int RetryIntervalSeconds,
    [property: JsonPropertyName("job")] DaggyJob Job,
    [property: JsonPropertyName("children")] IReadOnlyList<string> Children,
    [property: JsonPropertyName("parents")] IReadOnlyList<string> Parents,
    [property: JsonPropertyName("isGenerator")] bool IsGenerator);

public sealed record DaggyAttempt(
    [property: JsonPropertyName("startTime")] string StartTime,
    [property: JsonPropertyName("stopTime")] string StopTime,
    [property: JsonPropertyName("rc")] int Rc,
    [property: JsonPropertyName("outputLog")] string OutputLog,
    [property: JsonPropertyName("errorLog")] string ErrorLog,
    [property: JsonPropertyName("executorLog")] string ExecutorLog);

public sealed record DaggyStateChange(
    [property: JsonPropertyName("time")] string Time,
    [property: JsonPropertyName("state")] string State);

public sealed record DaggyRun(
    [property: JsonPropertyName("runID")] long RunId,
    [property: JsonPropertyName("tag")] string Tag,
    [property: JsonPropertyName("tasks")] Dictionary<string, DaggyTask> Tasks,
    [property: JsonPropertyName("taskStates")] Dictionary<string, string> TaskStates,
    [property: JsonPropertyName("taskAttempts")] Dictionary<string, List<DaggyAttempt>> TaskAttempts,
    [property: JsonPropertyName("dagStateChanges")] List<DaggyStateChange> DagStateChanges);

public sealed record DaggyRunId([property: JsonPropertyName("runID")] long RunId)
{
    /// <summary>Taskdeck's own, on a kill or restart: how many tasks it acts on, and the bulk action carrying it out.</summary>
    [JsonPropertyName("tasks")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? Tasks { get; init; }
    [JsonPropertyName("bulkActionID")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? BulkActionId { get; init; }
    /// <summary>False while the tasks are still being acted on in the background.</summary>
    [JsonPropertyName("done")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public bool? Done { get; init; }
}

public sealed record DaggyState([property: JsonPropertyName("state")] string State);

public sealed record DaggyValidation(
    [property: JsonPropertyName("valid")] bool Valid,
    [property: JsonPropertyName("errors"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Errors);

public sealed record DaggyReady([property: JsonPropertyName("msg")] string Msg);
