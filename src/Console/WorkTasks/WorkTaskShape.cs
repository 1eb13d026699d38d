using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Core.WorkTasks;

namespace Taskdeck.Console.WorkTasks;

/// <summary>The work-task object of the seed (003), snake_case, every field present (null when unknown).</summary>
public sealed record WorkTaskDto(
    [property: JsonPropertyName("worktask_id")] string WorkTaskId,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("priority")] int Priority,
    [property: JsonPropertyName("submitted_at")] string SubmittedAt,
    [property: JsonPropertyName("started_at")] string? StartedAt,
    [property: JsonPropertyName("completed_at")] string? CompletedAt,
    [property: JsonPropertyName("project_id")] string ProjectId,
    [property: JsonPropertyName("task_spec")] JsonElement TaskSpec,
    [property: JsonPropertyName("resource_requirements")] JsonElement ResourceRequirements,
    [property: JsonPropertyName("data_access")] JsonElement DataAccess,
    [property: JsonPropertyName("error_message")] string? ErrorMessage,
    [property: JsonPropertyName("kubernetes_job_name")] string? KubernetesJobName,
    [property: JsonPropertyName("cluster_name")] string? ClusterName,
    [property: JsonPropertyName("retry_count")] int RetryCount,
    [property: JsonPropertyName("max_retries")] int MaxRetries,
    [property: JsonPropertyName("retry_reason")] string? RetryReason,
    [property: JsonPropertyName("output_location")] string? OutputLocation,
    [property: JsonPropertyName("metadata")] JsonElement? Metadata,
    [property: JsonPropertyName("execution_id")] long ExecutionId);

public sealed record QueueLengthDto([property: JsonPropertyName("queue_length")] int QueueLength);

public sealed record StatusUpdateResponse([property: JsonPropertyName("status")] string Status);

public sealed record TaskUpdateMessage(
    [property: JsonPropertyName("event")] string Event,
    [property: JsonPropertyName("task")] WorkTaskDto Task);

/// <summary>The seed's vocabulary at the edge: Core's states in, work-task words out.</summary>
public static class WorkTaskShape
{
    public const string Queued = "queued", Scheduled = "scheduled", Spawned = "spawned", Executing = "executing",
        Completed = "completed", Failed = "failed", Timeout = "timeout", Cancelled = "cancelled";

    public static readonly IReadOnlyList<string> Statuses = [Queued, Scheduled, Spawned, Executing, Completed, Failed, Timeout, Cancelled];

    /// <summary>
    /// Work waiting to start is <c>queued</c>, the real server's first status, whoever will run it; <c>scheduled</c> is work due
    /// later (a retry's back-off). A spawned worker is <c>spawned</c> from its process start until it reports it started.
    /// </summary>
    public static string Status(ExecutionState state, ExecutorKind kind, bool workerStarted) => state switch
    {
        ExecutionState.Pending or ExecutionState.Queued => Queued,
        ExecutionState.Scheduled => Scheduled,
        ExecutionState.Running or ExecutionState.Cancelling => kind == ExecutorKind.Command && !workerStarted ? Spawned : Executing,
        ExecutionState.Succeeded => Completed,
        ExecutionState.TimedOut => Timeout,
        ExecutionState.Cancelled => Cancelled,
        _ => Failed, // Failed, Lost, Expired
    };

    public static bool TryParseReport(string? status, out WorkerStatus report)
    {
        (var ok, report) = status switch
        {
            Executing => (true, WorkerStatus.Started),
            Completed => (true, WorkerStatus.Succeeded),
            Failed => (true, WorkerStatus.Failed),
            Timeout => (true, WorkerStatus.TimedOut),
            Cancelled => (true, WorkerStatus.Cancelled),
            _ => (false, WorkerStatus.Started),
        };
        return ok;
    }

    public static WorkTaskDto ToDto(WorkTaskRecord record, Core.TaskdeckOptions options) => ToDto(record, record.Execution.State, WorkerStarted(record), options);

    /// <summary>Whether the worker of the attempt now running reported it started (an earlier attempt's report does not count).</summary>
    public static bool WorkerStarted(WorkTaskRecord record) =>
        record.Execution.State.IsActive() && record.Task.WorkerStartedAttempt == record.Execution.AttemptCount;

    /// <param name="state">The state to show: a live update shows the state of its event even if the record moved on since.</param>
    public static WorkTaskDto ToDto(WorkTaskRecord record, ExecutionState state, bool workerStarted, Core.TaskdeckOptions options)
    {
        var (e, t) = (record.Execution, record.Task);
        var result = Parse(e.ResultJson);
        var outputLocation = t.OutputLocation
            ?? (result is { ValueKind: JsonValueKind.Object } r && r.TryGetProperty("output_location", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null);
        var metadata = Parse(t.MetadataJson)
            ?? (result is { ValueKind: JsonValueKind.Object } m && m.TryGetProperty("metadata", out var md) && md.ValueKind != JsonValueKind.Null ? md : null);
        // Retries so far: attempts opened before the current one (or all of them while it waits for the next).
        var retries = state.IsWaiting() ? e.AttemptCount : Math.Max(0, e.AttemptCount - 1);
        // The worker's reason is stored just after the retry's transition, which writes the same text as the record's error: a
        // read in between (the retry may already be claimed and spawned) takes it from there.
        var retryReason = t.RetryReason ?? (retries > 0 && !state.IsTerminal() ? e.ErrorMessage : null);
        return new WorkTaskDto(
            t.WorkTaskId, t.Type, Status(state, e.Kind, workerStarted), e.Priority, Iso(e.CreatedAt)!,
            state is ExecutionState.Pending or ExecutionState.Queued or ExecutionState.Scheduled && e.AttemptCount == 0 ? null : Iso(e.StartedAt),
            state.IsTerminal() ? Iso(e.FinishedAt) : null,
            t.ProjectId, Json(Core.Secrets.SecretText.RedactJson(options.Secrets, t.TaskSpecJson)!), Json(t.ResourceRequirementsJson), Json(t.DataAccessJson),
            // As the real server's requeue: a task waiting for its retry shows no error (retry_reason keeps it).
            state.IsWaiting() ? null : ErrorMessage(state, e, options.Retry), t.KubernetesJobName, t.ClusterName, retries, e.MaxRetries, retryReason,
            outputLocation, metadata, e.Id);
    }

    /// <summary>
    /// The error as the work-task server words a task whose retries ran out (its Queue.RequeueWithRetry):
    /// <c>failed after N retries: &lt;last error&gt;</c>, so the task says retrying was tried and given up. Core keeps the
    /// plain error; a failure the policy does not retry is shown as it is, on whichever attempt it came. Records that ended
    /// before the wording moved here (494d1fc to 2829c30) hold it already and are shown as they are.
    /// </summary>
    public static string? ErrorMessage(ExecutionState state, Execution e, Core.RetryOptions retry) =>
        state == ExecutionState.Failed && RetryElection.GaveUp(e, retry) && !e.ErrorMessage!.StartsWith(GaveUpPrefix, StringComparison.Ordinal)
            ? $"{GaveUpPrefix}{e.AttemptCount - 1} retries: {e.ErrorMessage}"
            : e.ErrorMessage;

    private const string GaveUpPrefix = "failed after ";

    /// <summary>ISO 8601 in UTC with a Z, as the seed shows (<c>2024-01-15T10:35:00Z</c>), keeping sub-second precision.</summary>
    public static string? Iso(DateTimeOffset? at) => at?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    private static JsonElement Json(string json) => Parse(json) ?? JsonDocument.Parse("{}").RootElement;

    private static JsonElement? Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return null;
        try { return JsonDocument.Parse(json).RootElement.Clone(); }
        catch (JsonException) { return null; }
    }
}

/// <summary>The seed's JSON inside an execution: a handler's <c>worktask</c> arguments and a reported success's result.</summary>
public sealed class WorkTaskJsonShapes : IWorkTaskShapes
{
    /// <summary>The task spec as the handler's arguments, with the work task's own fields under <c>worktask</c>.</summary>
    public string HandlerArguments(string workTaskId, WorkTaskSubmission submission)
    {
        var args = JsonNode.Parse(submission.TaskSpecJson) as JsonObject ?? [];
        args["worktask"] = new JsonObject
        {
            ["worktask_id"] = workTaskId, ["type"] = submission.Type, ["project_id"] = submission.ProjectId,
            ["resource_requirements"] = JsonNode.Parse(submission.ResourceRequirementsJson), ["data_access"] = JsonNode.Parse(submission.DataAccessJson),
        };
        return args.ToJsonString();
    }

    /// <summary><c>output_location</c> and <c>metadata</c>, as <see cref="WorkTaskShape.ToDto(WorkTaskRecord, Core.TaskdeckOptions)"/> reads them back.</summary>
    public string SuccessResult(WorkerReport report) => new JsonObject
    {
        ["output_location"] = report.OutputLocation,
        ["metadata"] = report.MetadataJson is { } metadata ? JsonNode.Parse(metadata) : null,
    }.ToJsonString();
}

/// <summary>A bad quantity in <c>resource_requirements</c>; names the field.</summary>
public sealed class ResourceFormatException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}

/// <summary>
/// <c>resource_requirements</c> → what the engine admits on: Kubernetes-style quantities (<c>cpu</c> "1", "0.5", "500m";
/// <c>memory</c> "2Gi", "512Mi", "100M", bytes as a number; <c>gpu</c> true/false or a count) and daggy's
/// <c>cores</c>/<c>memoryMB</c>/<c>gpus</c> numbers. Memory is counted in MiB, rounded up.
/// </summary>
public static class ResourceQuantities
{
    private const string Prefix = "resource_requirements";

    private static readonly (string Suffix, double Bytes)[] MemoryUnits =
    [
        ("Ki", 1024d), ("Mi", 1024d * 1024), ("Gi", 1024d * 1024 * 1024), ("Ti", 1024d * 1024 * 1024 * 1024), ("Pi", Math.Pow(1024, 5)), ("Ei", Math.Pow(1024, 6)),
        ("k", 1e3), ("K", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
    ];

    public static ResourceNeed Parse(JsonElement requirements)
    {
        if (requirements.ValueKind != JsonValueKind.Object) throw new ResourceFormatException(Prefix, "Must be an object.");
        double cores = 0;
        long memoryMB = 0;
        var gpus = 0;
        foreach (var p in requirements.EnumerateObject())
        {
            var field = $"{Prefix}.{p.Name}";
            switch (p.Name)
            {
                case "cpu": cores = Cpu(p.Value, field); break;
                case "cores": cores = NonNegativeNumber(p.Value, field); break;
                case "memory": memoryMB = MemoryMB(p.Value, field); break;
                case "memoryMB": memoryMB = (long)Math.Ceiling(NonNegativeNumber(p.Value, field)); break;
                case "gpu" or "gpus": gpus = Gpu(p.Value, field); break;
            }
        }
        return new ResourceNeed(cores, memoryMB, gpus);
    }

    private static double Cpu(JsonElement v, string field)
    {
        if (v.ValueKind == JsonValueKind.Null) return 0;
        if (v.ValueKind == JsonValueKind.Number) return NonNegativeNumber(v, field);
        if (v.ValueKind != JsonValueKind.String) throw new ResourceFormatException(field, "A CPU quantity is a string such as \"1\", \"0.5\" or \"500m\".");
        var text = v.GetString()!.Trim();
        if (text.Length == 0) return 0;
        var milli = text.EndsWith('m');
        if (!double.TryParse(milli ? text[..^1] : text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || double.IsInfinity(value))
            throw new ResourceFormatException(field, $"'{text}' is not a CPU quantity (use \"1\", \"0.5\" or \"500m\").");
        return milli ? value / 1000 : value;
    }

    private static long MemoryMB(JsonElement v, string field)
    {
        if (v.ValueKind == JsonValueKind.Null) return 0;
        double bytes;
        if (v.ValueKind == JsonValueKind.Number) bytes = NonNegativeNumber(v, field);
        else if (v.ValueKind == JsonValueKind.String)
        {
            var text = v.GetString()!.Trim();
            if (text.Length == 0) return 0;
            var (number, factor) = MemoryUnits.Where(u => text.EndsWith(u.Suffix, StringComparison.Ordinal))
                .Select(u => (text[..^u.Suffix.Length], u.Bytes)).FirstOrDefault((text, 1d));
            if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || double.IsInfinity(value))
                throw new ResourceFormatException(field, $"'{text}' is not a memory quantity (use \"2Gi\", \"512Mi\", \"100M\" or a number of bytes).");
            bytes = value * factor;
        }
        else throw new ResourceFormatException(field, "A memory quantity is a string such as \"2Gi\", \"512Mi\" or \"100M\".");
        return (long)Math.Ceiling(bytes / (1024 * 1024));
    }

    private static int Gpu(JsonElement v, string field) => v.ValueKind switch
    {
        JsonValueKind.True => 1,
        JsonValueKind.False or JsonValueKind.Null => 0,
        JsonValueKind.Number when v.TryGetInt32(out var n) && n >= 0 => n,
        JsonValueKind.String when int.TryParse(v.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var s) => s,
        _ => throw new ResourceFormatException(field, "Use true/false or a whole number of GPUs."),
    };

    private static double NonNegativeNumber(JsonElement v, string field) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && d >= 0 && !double.IsInfinity(d)
            ? d
            : throw new ResourceFormatException(field, "Must be a number, 0 or more.");
}
