using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Auth;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Schedules;

namespace Taskdeck.Console.Components.Schedules;

/// <summary>What an operator does to a schedule from its list row or its page (editing has its own page).</summary>
public enum ScheduleVerb { Pause, Resume, Trigger, Delete }

/// <summary>
/// Each schedule verb in one place for both schedule pages: the policy it needs (the one its route requires in
/// <c>SchedulesApi</c>: pause, resume and trigger <c>operate</c>; edit and delete <c>submit</c>), shown through
/// <c>AuthorizeView</c> and checked again when it runs; the question asked first; and the call into Core.
/// </summary>
public sealed class ScheduleActions(ScheduleService schedules, ConsoleActor actor, IDialogService dialogs, ISnackbar snackbar)
{
    /// <summary>Creating and editing a schedule (the editor page) — the API's POST and PUT.</summary>
    public const string EditPolicy = Policies.Submit;

    public static string PolicyOf(ScheduleVerb verb) => verb switch
    {
        ScheduleVerb.Delete => EditPolicy,
        _ => Policies.Operate,
    };

    /// <summary>What happens, said in the confirmation before the verb runs.</summary>
    public static string Consequence(ScheduleVerb verb, ScheduleView s) => verb switch
    {
        ScheduleVerb.Pause => "No slot fires until it is resumed. Runs already started go on.",
        ScheduleVerb.Resume => "It fires again from now; slots that passed while it was paused are not caught up.",
        ScheduleVerb.Trigger => "Start a run now, outside its cron, whatever its overlap policy.",
        ScheduleVerb.Delete => "The schedule and its firing history are deleted. Runs it already started are kept." +
            (s.FromConfiguration ? " It is declared in configuration: the next start creates it again." : ""),
        _ => throw new ArgumentOutOfRangeException(nameof(verb), verb, null),
    };

    public Task<bool> ConfirmAsync(ScheduleVerb verb, ScheduleView s) =>
        dialogs.ConfirmAsync($"{verb} schedule {s.Name}?", Consequence(verb, s), verb.ToString());

    /// <summary>
    /// Runs the verb as the signed-in user, when they hold its policy, and says how it went in a snackbar. Null when
    /// it could not run (not allowed, or failed): the message is shown.
    /// </summary>
    public async Task<ScheduleOutcome?> RunAsync(ScheduleVerb verb, ScheduleView s)
    {
        try
        {
            var by = await actor.ForAsync(PolicyOf(verb));
            var outcome = verb switch
            {
                ScheduleVerb.Pause => await schedules.PauseAsync(s.Id, by),
                ScheduleVerb.Resume => await schedules.ResumeAsync(s.Id, by),
                ScheduleVerb.Trigger => (await schedules.TriggerAsync(s.Id, by)).Outcome,
                ScheduleVerb.Delete => await schedules.DeleteAsync(s.Id, by),
                _ => throw new ArgumentOutOfRangeException(nameof(verb), verb, null),
            };
            snackbar.Add(outcome.Message, outcome.Done ? Severity.Success : Severity.Error);
            return outcome;
        }
        catch (Exception e)
        {
            snackbar.Add($"{verb} failed: {e.Message}", Severity.Error);
            return null;
        }
    }
}
