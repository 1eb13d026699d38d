using System.Text.Json;
using System.Text.Json.Serialization;

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

    /// <summary>Whether any field narrows the records (else it covers every execution).</summary>
    [JsonIgnore]
    public bool HasCriteria =>
        States is { Count: > 0 } || !string.IsNullOrWhiteSpace(Name) || !string.IsNullOrWhiteSpace(Queue) || !string.IsNullOrWhiteSpace(Tag)
        || DagRunId is not null || CreatedFrom is not null || CreatedTo is not null || !string.IsNullOrWhiteSpace(Search) || Kind is not null
        || !string.IsNullOrWhiteSpace(Schedule);

    /// <summary>
    /// What a reset with this filter covers: only the retryable states (those asked for, else all of them); null when
    /// none of the states asked for can be reset.
    /// </summary>
    public ExecutionFilter? Resettable()
    {
        var states = (States is { Count: > 0 } asked ? asked.Intersect(ExecutionStates.Retryable) : ExecutionStates.Retryable).ToList();
        return states.Count == 0 ? null : this with { States = states };
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The filter as it was asked (empty fields left out), so an audit entry reads "States: [Failed], Tag: nightly"; a bulk act stores it so.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static ExecutionFilter FromJson(string? json) => JsonSerializer.Deserialize<ExecutionFilter>(json ?? "{}", JsonOptions) ?? new ExecutionFilter();
}
