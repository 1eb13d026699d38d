using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Console.Live;
using Taskdeck.Core.Schedules;

namespace Taskdeck.Console.Components.Schedules;

/// <summary>One schedule: its definition, next fire times, firings (with links to their runs) and actions through Core.</summary>
public partial class ScheduleDetailPage : IAsyncDisposable
{
    private const int PageSize = 50;

    private ScheduleView? _view;
    private List<FiringView> _firings = [];
    /// <summary>Older firings this page loaded on demand (the shared model holds the newest ones).</summary>
    private List<FiringView> _older = [];
    private bool _olderMore;
    private ScheduleActions? _actions;
    private bool _more;
    private bool _missing;
    private bool _busy;
    private List<BreadcrumbItem> _crumbs = [];
    private LiveViewer<ScheduleDetailSnapshot>? _live;
    private TimeZoneInfo _zone = TimeZoneInfo.Utc;

    [Parameter] public string Name { get; set; } = "";

    [Inject] public required IScheduleStore Store { get; init; }
    [Inject] public required ScheduleService Schedules { get; init; }
    [Inject] public required LiveModels Live { get; init; }
    [Inject] public required PageVisibility Visibility { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [Inject] public required IDialogService Dialogs { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }

    protected override async Task OnParametersSetAsync()
    {
        if (_live?.Model is ScheduleDetailModel { Name: var shown } && shown == Name) return;
        _crumbs = [new("Schedules", ScheduleLinks.List), new(Name, null, disabled: true)];
        _view = null;
        _firings = _older = [];
        var previous = _live;
        // The schedule's shared model: its changes, firings and the states of the runs listed, read once for every viewer.
        _live = Live.WatchSchedule(Name, new LivePage(Visibility, InvokeAsync), update => { Show(update.Snapshot); return Task.CompletedTask; });
        if (previous is not null) await previous.DisposeAsync();
        Show(await _live.CurrentAsync(), render: false);
    }

    private void Show(ScheduleDetailSnapshot snapshot, bool render = true)
    {
        _missing = snapshot.View is null;
        _view = snapshot.View;
        if (_view is not null) _zone = CronSchedule.FindZoneOrUtc(_view.TimeZone);
        var newest = snapshot.Firings;
        // Older pages someone loaded stay below the newest ones (those the newest now hold are dropped).
        var oldestShown = newest.Count > 0 ? newest[^1].Firing.Id : long.MaxValue;
        _older = _older.Where(f => f.Firing.Id < oldestShown).ToList();
        _firings = [.. newest, .. _older];
        _more = _older.Count > 0 ? _olderMore : snapshot.More;
        if (render) StateHasChanged();
    }

    private async Task LoadOlderAsync()
    {
        if (_view is null || _firings.Count == 0) return;
        var older = await Store.FiringsAsync(_view.Id, _firings[^1].Firing.Id, PageSize + 1);
        _olderMore = older.Count > PageSize;
        _older = [.. _older, .. older.Take(PageSize)];
        _firings = [.. _firings, .. older.Take(PageSize)];
        _more = _olderMore;
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
            (_live?.Model as ScheduleDetailModel)?.Invalidate();
        }
        catch (Exception e) { Snackbar.Add($"Could not reload schedule {view.Name}: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }

    public async ValueTask DisposeAsync()
    {
        if (_live is not null) await _live.DisposeAsync();
    }
}
