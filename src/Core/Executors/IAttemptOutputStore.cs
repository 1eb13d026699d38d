using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Executors;

/// <summary>
/// What a running attempt reports: its output lines and its progress. Keyed by execution like the transitions
/// (<see cref="IExecutionTransitionStore"/>): lines appended before an attempt's closing transition are committed no later than it.
/// </summary>
public interface IAttemptOutputStore
{
    /// <summary>
    /// Writes the lines. A failure that wrote some of them throws <see cref="LogLinesNotWrittenException"/> naming the rest;
    /// any other failure wrote none.
    /// </summary>
    Task AppendLogAsync(IReadOnlyList<LogEntry> entries, CancellationToken ct = default);

    /// <summary>Stored only while the record is Running or Cancelling: a late report does not touch a finished record.</summary>
    Task SetProgressAsync(long id, double? progress, string? message, CancellationToken ct = default);
}

/// <summary>A log write that committed part of its lines (a store that splits a batch between writers): these were not written.</summary>
public sealed class LogLinesNotWrittenException(IReadOnlyList<LogEntry> lines, Exception inner)
    : Exception($"{lines.Count} log lines were not written: {inner.Message}", inner)
{
    public IReadOnlyList<LogEntry> Lines { get; } = lines;
}
