using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Executors;

/// <summary>
/// What a command gets beyond its own argv and environment. A feature whose processes report their outcome over
/// an API (the work-task queue's spawned workers) adds environment here and says that the exit code alone is not
/// the outcome: such a process that exits while its record still runs failed to report, and its attempt fails.
/// </summary>
public interface ICommandLaunch
{
    ValueTask<CommandLaunch> PrepareAsync(Execution execution, int attempt, CancellationToken ct);
}

/// <param name="Environment">Added to the process environment (wins over the execution's own).</param>
/// <param name="ReportsOutcome">The process reports its final state itself; its exit only closes what it left open.</param>
public sealed record CommandLaunch(IReadOnlyDictionary<string, string>? Environment, bool ReportsOutcome)
{
    public static readonly CommandLaunch Plain = new(null, false);
}

/// <summary>The default: commands run with their own environment and their exit code is their outcome.</summary>
public sealed class PlainCommandLaunch : ICommandLaunch
{
    public ValueTask<CommandLaunch> PrepareAsync(Execution execution, int attempt, CancellationToken ct) => ValueTask.FromResult(CommandLaunch.Plain);
}
