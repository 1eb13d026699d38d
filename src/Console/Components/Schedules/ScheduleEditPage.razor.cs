using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Schedules;

namespace Taskdeck.Console.Components.Schedules;

/// <summary>Create or edit a schedule: the form is <see cref="ScheduleEditor"/>; saving goes through Core's <see cref="ScheduleService"/>.</summary>
public partial class ScheduleEditPage
{
    private ScheduleDraft? _initial;
    private Schedule? _stored;
    private long? _id;
    private bool _fromConfiguration;
    private bool _missing;
    private bool _busy;
    private int _version;
    private EditorProblem? _problem;
    private List<BreadcrumbItem> _crumbs = [];

    [Parameter] public string? Name { get; set; }

    [Inject] public required TaskHandlerRegistry Handlers { get; init; }
    [Inject] public required ScheduleService Schedules { get; init; }
    [Inject] public required IScheduleStore Store { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }

    private bool IsNew => Name is null;

    protected override async Task OnParametersSetAsync()
    {
        _crumbs = [new("Schedules", ScheduleLinks.List)];
        if (IsNew)
        {
            _crumbs.Add(new("New", null, disabled: true));
            _initial = new ScheduleDraft { Cron = "0 2 * * *", TimeZone = "UTC" };
            return;
        }
        _crumbs.Add(new(Name!, ScheduleLinks.Detail(Name!)));
        _crumbs.Add(new("Edit", null, disabled: true));
        var schedule = await Store.FindByNameAsync(Name!);
        if (schedule is null) { _missing = true; return; }
        _id = schedule.Id;
        _stored = schedule;
        _fromConfiguration = schedule.FromConfiguration;
        _initial = Schedules.ForEditing(schedule);
        _version++;
    }

    private async Task SaveAsync(ScheduleDraft draft)
    {
        _busy = true;
        _problem = null;
        try
        {
            var actor = Schedules.StartsCommands(draft) ? await Actor.ForAsync(Auth.Policies.Submit, Auth.Policies.RunCommands) : await Actor.ForAsync(Auth.Policies.Submit);
            if (_stored is not null) draft = Schedules.RestoreRedacted(draft, _stored);
            var outcome = _id is { } id ? await Schedules.UpdateAsync(id, draft, actor) : await Schedules.CreateAsync(draft, actor);
            if (outcome.Done)
            {
                Snackbar.Add(outcome.Message, Severity.Success);
                Navigation.NavigateTo(ScheduleLinks.Detail(outcome.Schedule!.Name));
                return;
            }
            _problem = new EditorProblem(outcome.Status == Core.Executions.ActionStatus.NotFound ? "schedule" : "name", outcome.Message);
        }
        catch (ScheduleDefinitionException e) { _problem = new EditorProblem(e.Field, e.Message); }
        catch (Exception e) { Snackbar.Add($"The schedule could not be saved: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }

    private void Cancel() => Navigation.NavigateTo(IsNew ? ScheduleLinks.List : ScheduleLinks.Detail(Name!));
}
