using MudBlazor;
using Taskdeck.Core.Executions;

namespace Taskdeck.Console.Components.Shared;

public static class Dialogs
{
    /// <summary>A yes/no question; true only when the person chose <paramref name="yes"/>.</summary>
    public static async Task<bool> ConfirmAsync(this IDialogService dialogs, string title, string message, string yes)
    {
        var answer = await dialogs.ShowMessageBoxAsync(title, message, yes, null, "Keep",
            new DialogOptions { MaxWidth = MaxWidth.Small, FullWidth = true, CloseOnEscapeKey = true });
        return answer == true;
    }

    /// <summary>Reports an action's outcome: success quietly, refusal with its reason.</summary>
    public static void Report(this ISnackbar snackbar, ActionOutcome outcome)
    {
        if (outcome.Done) snackbar.Add($"#{outcome.ExecutionId}: {outcome.Message}", Severity.Success);
        else snackbar.Add(outcome.Message, outcome.Status == ActionStatus.NotFound ? Severity.Warning : Severity.Error);
    }

    public static void Report(this ISnackbar snackbar, string verb, IReadOnlyList<ActionOutcome> outcomes)
    {
        var done = outcomes.Count(o => o.Done);
        var refused = outcomes.Where(o => !o.Done).ToList();
        if (done > 0) snackbar.Add($"{verb}: {done} of {outcomes.Count} done.", refused.Count == 0 ? Severity.Success : Severity.Warning);
        foreach (var r in refused.Take(3)) snackbar.Add(r.Message, Severity.Error);
        if (refused.Count > 3) snackbar.Add($"…and {refused.Count - 3} more refused.", Severity.Error);
    }
}
