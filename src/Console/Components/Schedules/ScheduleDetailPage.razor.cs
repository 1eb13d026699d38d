using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Schedules;

namespace Taskdeck.Console.Components.Schedules;

/// <summary>One schedule: its definition, next fire times, firings (with links to their runs) and actions through Core.</summary>
public partial class ScheduleDetailPage : IAsyncDisposable
{
    private const int PageSize = 50;

    private ScheduleView? _view;
    private List<FiringView> _firings = [];
    // The runs of the listed firings, replaced (never changed) at each load: the feed reads them on Core's threads.
    private HashSet<long> _runs = [];
    private HashSet<long> _dagRuns = [];
    private ScheduleActions? _actions;
    private bool _more;
    private bool _missing;
    private bool _busy;
    private List<BreadcrumbItem> _crumbs = [];
    private IAsyncDisposable? _live;
    private TimeZoneInfo _zone = TimeZoneInfo.Utc;

    [Parameter] public string Name { get; set; } = "";

    [Inject] public required ScheduleQueries Queries { get; init; }
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
            e => _runs.Contains(e.ExecutionId) || e.DagRunId is { } run && _dagRuns.Contains(run),
            () => InvokeAsync(async () => { await LoadAsync(keepOlder: true); StateHasChanged(); }));

    protected override async Task OnParametersSetAsync()
    {
        _crumbs = [new("Schedules", ScheduleLinks.List), new(Name, null, disabled: true)];
        _view = null;
        ShowFirings([]);
        await LoadAsync(keepOlder: false);
    }

    private async Task LoadAsync(bool keepOlder)
    {
        // A live refresh keeps the older pages someone loaded: it reloads as many rows as are on screen.
        var count = keepOlder ? Math.Max(PageSize, _firings.Count) : PageSize;
        if (await Queries.DetailAsync(Name, count + 1) is not { } detail) { _missing = true; _view = null; return; }
        var (schedule, firings) = detail;
        _missing = false;
        _zone = CronSchedule.FindZoneOrUtc(schedule.TimeZone);
        _more = firings.Count > count;
        ShowFirings(firings.Take(count).ToList());
        _view = ScheduleView.From(schedule, Schedules.NextFireTimes(schedule, 5), _firings.FirstOrDefault());
    }

    private async Task LoadOlderAsync()
    {
        if (_view is null || _firings.Count == 0) return;
        var older = await Store.FiringsAsync(_view.Id, _firings[^1].Firing.Id, PageSize + 1);
        _more = older.Count > PageSize;
        ShowFirings([.. _firings, .. older.Take(PageSize)]);
    }

    /// <summary>The rows, and the runs they link to as new sets: the feed's predicate reads the sets on Core's threads.</summary>
    private void ShowFirings(List<FiringView> firings)
    {
        _firings = firings;
        _runs = firings.Select(f => f.Firing.ExecutionId).OfType<long>().ToHashSet();
        _dagRuns = firings.Select(f => f.Firing.DagRunId).OfType<long>().ToHashSet();
    }

    private string InZone(DateTimeOffset at) => Format.InZone(at, _zone);

    private ScheduleActions Actions => _actions ??= new(Schedules, Actor, Dialogs, Snackbar);

    private async Task ActAsync(ScheduleVerb verb)
    {
        if (_view is not { } view || !await Actions.ConfirmAsync(verb, view)) return;
        _busy = true;
        try
        {
            if (await Actions.RunAsync(verb, view) is not { } outcome) return;
            if (verb == ScheduleVerb.Delete && outcome.Done) { Navigation.NavigateTo(ScheduleLinks.List); return; }
            await LoadAsync(keepOlder: true);
        }
        catch (Exception e) { Snackbar.Add($"Could not reload schedule {view.Name}: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }

    public async ValueTask DisposeAsync()
    {
        if (_live is not null) await _live.DisposeAsync();
    }
}
