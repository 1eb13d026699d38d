using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Components.Executions;

/// <summary>Which operator actions a state allows, so buttons are disabled up front instead of failing.</summary>
public static class ExecutionActions
{
    public static bool CanCancel(ExecutionState state) => state.IsWaiting() || state == ExecutionState.Running;
    public static bool CanRetry(ExecutionState state) => ExecutionStates.Retryable.Contains(state);
    public static bool CanDelete(ExecutionState state) => state.IsTerminal();

    public static string Describe(IReadOnlyCollection<Execution> items)
    {
        var ids = items.OrderBy(e => e.Id).Select(e => $"#{e.Id}").ToList();
        var list = ids.Count <= 6 ? string.Join(", ", ids) : string.Join(", ", ids.Take(5)) + $" and {ids.Count - 5} more";
        var names = items.Select(e => e.Name).Distinct().ToList();
        var what = names.Count == 1 ? names[0] : $"{names.Count} different tasks";
        return $"{list} ({what})";
    }
}

/// <summary>Rows are new objects after every server reload; selection follows the id.</summary>
public sealed class ExecutionById : IEqualityComparer<Execution>
{
    public static readonly ExecutionById Instance = new();
    public bool Equals(Execution? x, Execution? y) => x?.Id == y?.Id;
    public int GetHashCode(Execution obj) => obj.Id.GetHashCode();
}
