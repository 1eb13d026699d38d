namespace Taskdeck.Core.Executions;

/// <summary>Which executions a list, a count or a bulk reset covers. Every field is optional.</summary>
public sealed record ExecutionFilter
{
    public IReadOnlyList<ExecutionState>? States { get; init; }
    public string? Name { get; init; }
    public string? Queue { get; init; }
    public string? Tag { get; init; }
    public long? DagRunId { get; init; }
    public DateTimeOffset? CreatedFrom { get; init; }
    public DateTimeOffset? CreatedTo { get; init; }
    /// <summary>Matches the numeric id or the task id.</summary>
    public string? Search { get; init; }
    public ExecutorKind? Kind { get; init; }
    /// <summary>Started by the schedule of this name.</summary>
    public string? Schedule { get; init; }
}
