using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Executors;

/// <summary>
/// Looks at a successful attempt before its success is recorded (its logs are already flushed) and may turn it into
/// a failure: a DAG generator whose output is not a valid set of tasks has not succeeded. The failure then takes the
/// normal path (retry if retries remain, else Failed), so the state machine stays the only way states change.
/// </summary>
public interface IResultValidator
{
    /// <summary>A cheap look at the record: only when some validator applies are the attempt's logs flushed first.</summary>
    bool AppliesTo(Execution execution);

    /// <returns>null to accept; otherwise why the attempt fails (the runner writes it to the executor log).</returns>
    Task<string?> ValidateAsync(Execution execution, int attempt, CancellationToken ct);
}
