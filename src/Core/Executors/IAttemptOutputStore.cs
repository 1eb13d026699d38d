using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Executors;

/// <summary>
/// What a running attempt reports: its output lines and its progress. Keyed by execution like the transitions
/// (<see cref="IExecutionTransitionStore"/>): lines appended before an attempt's closing transition are committed no later than it.
/// </summary>
public interface IAttemptOutputStore
{
    Task AppendLogAsync(IReadOnlyList<LogEntry> entries, CancellationToken ct = default);

    /// <summary>Stored only while the record is Running or Cancelling: a late report does not touch a finished record.</summary>
    Task SetProgressAsync(long id, double? progress, string? message, CancellationToken ct = default);
}
