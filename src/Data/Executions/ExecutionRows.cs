using System.Data.Common;
using System.Text.Json;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Storage;
using static Taskdeck.Data.Storage.Schema;

namespace Taskdeck.Data.Executions;

/// <summary>
/// Reads an execution row by hand for the engine's hot path, with the same conversions as the EF model (times as
/// microseconds since the Unix epoch, lists as JSON text). Values go through Convert so that every provider's column
/// types (SQLite integers for booleans, PostgreSQL booleans, …) read the same.
/// </summary>
internal static class ExecutionRows
{
    // In the order Read reads them.
    private static readonly string[] Names =
    [
        ExecutionColumns.Id, ExecutionColumns.TaskId, ExecutionColumns.Kind, ExecutionColumns.Name, ExecutionColumns.ArgumentsJson,
        ExecutionColumns.Command, ExecutionColumns.Environment, ExecutionColumns.WorkingDirectory, ExecutionColumns.Queue, ExecutionColumns.Priority,
        ExecutionColumns.State, ExecutionColumns.AttemptCount, ExecutionColumns.MaxRetries, ExecutionColumns.RetryIntervalSeconds,
        ExecutionColumns.ExponentialBackoff, ExecutionColumns.RetryPolicy, ExecutionColumns.TimeoutSeconds, ExecutionColumns.RunAt,
        ExecutionColumns.ExpiresAt, ExecutionColumns.CreatedAt, ExecutionColumns.UpdatedAt, ExecutionColumns.StartedAt, ExecutionColumns.FinishedAt,
        ExecutionColumns.ResultJson, ExecutionColumns.ErrorMessage, ExecutionColumns.Progress, ExecutionColumns.ProgressMessage,
        ExecutionColumns.Tags, ExecutionColumns.DagRunId, ExecutionColumns.DagTaskName, ExecutionColumns.IsGenerator, ExecutionColumns.NodeId,
        ExecutionColumns.HangfireJobId, ExecutionColumns.Cores, ExecutionColumns.MemoryMB, ExecutionColumns.Gpus, ExecutionColumns.ScheduleName,
        ExecutionColumns.ScheduleSlot,
    ];

    public static readonly string Columns = string.Join(", ", Names);

    public static Execution Read(DbDataReader r) => new()
    {
        Id = Convert.ToInt64(r.GetValue(0)),
        TaskId = r.GetString(1),
        Kind = (ExecutorKind)Convert.ToInt32(r.GetValue(2)),
        Name = r.GetString(3),
        ArgumentsJson = Text(r, 4),
        Command = List(r, 5),
        Environment = List(r, 6),
        WorkingDirectory = Text(r, 7),
        Queue = r.GetString(8),
        Priority = Convert.ToInt32(r.GetValue(9)),
        State = (ExecutionState)Convert.ToInt32(r.GetValue(10)),
        AttemptCount = Convert.ToInt32(r.GetValue(11)),
        MaxRetries = Convert.ToInt32(r.GetValue(12)),
        RetryIntervalSeconds = Convert.ToInt32(r.GetValue(13)),
        ExponentialBackoff = Convert.ToBoolean(r.GetValue(14)),
        RetryPolicy = (RetryPolicy)Convert.ToInt32(r.GetValue(15)),
        TimeoutSeconds = r.IsDBNull(16) ? null : Convert.ToInt32(r.GetValue(16)),
        RunAt = Time(r, 17),
        ExpiresAt = Time(r, 18),
        CreatedAt = Time(r, 19)!.Value,
        UpdatedAt = Time(r, 20)!.Value,
        StartedAt = Time(r, 21),
        FinishedAt = Time(r, 22),
        ResultJson = Text(r, 23),
        ErrorMessage = Text(r, 24),
        Progress = r.IsDBNull(25) ? null : Convert.ToDouble(r.GetValue(25)),
        ProgressMessage = Text(r, 26),
        Tags = List(r, 27),
        DagRunId = r.IsDBNull(28) ? null : Convert.ToInt64(r.GetValue(28)),
        DagTaskName = Text(r, 29),
        IsGenerator = Convert.ToBoolean(r.GetValue(30)),
        NodeId = Text(r, 31),
        HangfireJobId = Text(r, 32),
        Cores = Convert.ToDouble(r.GetValue(33)),
        MemoryMB = Convert.ToInt64(r.GetValue(34)),
        Gpus = Convert.ToInt32(r.GetValue(35)),
        ScheduleName = Text(r, 36),
        ScheduleSlot = Time(r, 37),
    };

    private static string? Text(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static DateTimeOffset? Time(DbDataReader r, int i) => r.IsDBNull(i) ? null : TaskdeckDbContext.FromMicros(Convert.ToInt64(r.GetValue(i)));

    private static List<string> List(DbDataReader r, int i)
    {
        if (r.IsDBNull(i)) return [];
        var text = r.GetString(i);
        return text is "[]" or "" ? [] : JsonSerializer.Deserialize<List<string>>(text) ?? [];
    }
}
