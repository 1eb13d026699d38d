using System.Globalization;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Schedules;

namespace Taskdeck.Console.Components.Schedules;

/// <summary>One schedule: its definition, next fire times, firings (with links to their runs) and actions through Core.</summary>
public partial class ScheduleDetailPage : IAsyncDisposable
{
    private const int PageSize = 50;

    private ScheduleView? _view;
    private List<FiringView> _firings = [];
    private bool _more;
    private bool _missing;
    private bool _busy;
    private List<BreadcrumbItem> _crumbs = [];
    private IAsyncDisposable? _live;
    private TimeZoneInfo _zone = TimeZoneInfo.Utc;

    [Parameter] public string Name { get; set; } = "";

    [Inject] public required IScheduleStore Store { get; init; }
    [Inject] public required ScheduleService Schedules { get; init; }
    [Inject] public required ScheduleFeed Feed { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [Inject] public required IDialogService Dialogs { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }

    // This schedule's changes and firings, and the state changes of the runs listed.
    protected override void OnInitialized() =>
        _live = Feed.Subscribe(e => e.ScheduleId == _view?.Id || e.Name == Name,
            e => _firings.Any(f => f.Firing.ExecutionId == e.ExecutionId || e.DagRunId is { } run && f.Firing.DagRunId == run),
            () => InvokeAsync(async () => { await LoadAsync(keepOlder: true); StateHasChanged(); }));

    protected override async Task OnParametersSetAsync()
    {
        _crumbs = [new("Schedules", ScheduleLinks.List), new(Name, null, disabled: true)];
        _view = null;
        _firings = [];
        await LoadAsync(keepOlder: false);
    }

    private async Task LoadAsync(bool keepOlder)
    {
        var schedule = await Store.FindByNameAsync(Name);
        if (schedule is null) { _missing = true; _view = null; return; }
        _missing = false;
        try { _zone = CronSchedule.FindZone(schedule.TimeZone); } catch (ScheduleDefinitionException) { _zone = TimeZoneInfo.Utc; }
        // A live refresh keeps the older pages someone loaded: it reloads as many rows as are on screen.
        var count = keepOlder ? Math.Max(PageSize, _firings.Count) : PageSize;
        var firings = await Store.FiringsAsync(schedule.Id, null, count + 1);
        _more = firings.Count > count;
        _firings = firings.Take(count).ToList();
        _view = ScheduleView.From(schedule, Schedules.NextFireTimes(schedule, 5), _firings.FirstOrDefault());
    }

    private async Task LoadOlderAsync()
    {
        if (_view is null || _firings.Count == 0) return;
        var older = await Store.FiringsAsync(_view.Id, _firings[^1].Firing.Id, PageSize + 1);
        _more = older.Count > PageSize;
        _firings.AddRange(older.Take(PageSize));
    }

    private string InZone(DateTimeOffset at) => TimeZoneInfo.ConvertTime(at, _zone).ToString("ddd yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private Task PauseAsync() =>
        ActAsync("Pause", "No slot fires until it is resumed. Runs already started go on.", (id, actor) => Schedules.PauseAsync(id, actor));

    private Task ResumeAsync() =>
        ActAsync("Resume", "It fires again from now; slots that passed while it was paused are not caught up.", (id, actor) => Schedules.ResumeAsync(id, actor));

    private Task TriggerAsync() =>
        ActAsync("Trigger", "Start a run now, outside its cron, whatever its overlap policy.", async (id, actor) => (await Schedules.TriggerAsync(id, actor)).Outcome);

    private Task DeleteAsync() =>
        ActAsync("Delete", "The schedule and its firing history are deleted. Runs it already started are kept." +
            (_view?.FromConfiguration == true ? " It is declared in configuration: the next start creates it again." : ""),
            (id, actor) => Schedules.DeleteAsync(id, actor), deleted: true);

    private async Task ActAsync(string verb, string consequence, Func<long, Core.Audit.Actor, Task<ScheduleOutcome>> act, bool deleted = false)
    {
        if (_view is not { } view) return;
        if (!await Dialogs.ConfirmAsync($"{verb} schedule {view.Name}?", consequence, verb)) return;
        _busy = true;
        try
        {
            var outcome = await act(view.Id, await Actor.ForAsync(Auth.Policies.Operate));
            Snackbar.Add(outcome.Message, outcome.Done ? Severity.Success : Severity.Error);
            if (deleted && outcome.Done) { Navigation.NavigateTo(ScheduleLinks.List); return; }
            await LoadAsync(keepOlder: true);
        }
        catch (Exception e) { Snackbar.Add($"{verb} failed: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }

    public async ValueTask DisposeAsync()
    {
        if (_live is not null) await _live.DisposeAsync();
    }
}
