using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Components.Executions;

/// <summary>Which operator actions a state allows, so buttons are disabled up front instead of failing.</summary>
public static class ExecutionActions
{
    public static bool CanCancel(ExecutionState state) => state.IsWaiting() || state == ExecutionState.Running;
    public static bool CanRetry(ExecutionState state) => ExecutionStates.Retryable.Contains(state);
    public static bool CanDelete(ExecutionState state) => state.IsTerminal();

    // What a row action's hover says, worded once from the rules above: a disabled button takes no pointer events, so the
    // name (and why it is disabled) sits on the element around it.
    private static readonly string CancelRefused = Refused("Cancel", "cancelled", CanCancel);
    private static readonly string RetryRefused = Refused("Retry", "retried", CanRetry);
    private static readonly string DeleteRefused = Refused("Delete", "deleted", CanDelete);

    /// <summary>"Cancel", or why a row in this state cannot be cancelled.</summary>
    public static string CancelHint(ExecutionState state) => CanCancel(state) ? "Cancel" : CancelRefused;
    public static string RetryHint(ExecutionState state) => CanRetry(state) ? "Retry" : RetryRefused;
    public static string DeleteHint(ExecutionState state) => CanDelete(state) ? "Delete" : DeleteRefused;

    private static string Refused(string verb, string done, Func<ExecutionState, bool> allows)
    {
        var states = ExecutionStates.All.Where(allows).Select(s => StateStyle.Label(s).ToLowerInvariant()).ToList();
        var list = states.Count == 1 ? states[0] : $"{string.Join(", ", states[..^1])} or {states[^1]}";
        return $"{verb} — only {list} executions can be {done}";
    }

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
