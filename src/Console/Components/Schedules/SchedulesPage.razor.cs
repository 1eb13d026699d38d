using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Schedules;

namespace Taskdeck.Console.Components.Schedules;

/// <summary>Every schedule, paged in the database; filters live in the URL; actions go through Core's <see cref="ScheduleService"/>.</summary>
public partial class SchedulesPage : IAsyncDisposable
{
    private MudDataGrid<ScheduleView>? _grid;
    private IAsyncDisposable? _live;
    private bool _loaded;
    private bool _busy;
    private int? _total;
    private string? _lastUri;
    private ScheduleActions? _actions;
    // Replaced (never changed) at each load: Core's publishing threads read them while the page reloads.
    private HashSet<long> _visibleSchedules = [];
    private HashSet<long> _visibleRuns = [];
    private HashSet<long> _visibleDagRuns = [];

    [SupplyParameterFromQuery(Name = "q")] public string? Q { get; set; }
    [SupplyParameterFromQuery(Name = "status")] public string? Status { get; set; }

    [Inject] public required ScheduleQueries Queries { get; init; }
    [Inject] public required ScheduleService Schedules { get; init; }
    [Inject] public required ScheduleFeed Feed { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [Inject] public required IDialogService Dialogs { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }

    private bool HasFilters => !string.IsNullOrWhiteSpace(Q) || !string.IsNullOrWhiteSpace(Status);

    // A firing of a schedule on screen (its last-run chip and next fire), any other change (a created, renamed, paused
    // or deleted schedule can enter or leave the page), and the state changes of the runs whose chips are on screen.
    // Firings of the schedules on other pages are most of the traffic and change nothing here.
    protected override void OnInitialized() =>
        _live = Feed.Subscribe(e => e.Change != ScheduleChange.Fired || _visibleSchedules.Contains(e.ScheduleId),
            e => _visibleRuns.Contains(e.ExecutionId) || e.DagRunId is { } run && _visibleDagRuns.Contains(run), ReloadAsync);

    protected override async Task OnParametersSetAsync()
    {
        if (_lastUri is not null && _lastUri != Navigation.Uri && _grid is not null) await _grid.ReloadServerData();
        _lastUri = Navigation.Uri;
    }

    private async Task<GridData<ScheduleView>> LoadAsync(GridState<ScheduleView> state, CancellationToken ct)
    {
        bool? enabled = Status switch { "active" => true, "paused" => false, _ => null };
        try
        {
            var page = await Queries.PageAsync(Q, enabled, state.Page * state.PageSize, state.PageSize, ct);
            var items = page.Items.Select(r => ScheduleView.From(r.Schedule, Schedules.NextFireTimes(r.Schedule, 1), r.LastFiring)).ToList();
            _visibleSchedules = items.Select(i => i.Id).ToHashSet();
            _visibleRuns = items.Select(i => i.LastFiring?.Firing.ExecutionId).OfType<long>().ToHashSet();
            _visibleDagRuns = items.Select(i => i.LastFiring?.Firing.DagRunId).OfType<long>().ToHashSet();
            _loaded = true;
            if (_total != page.Total) { _total = page.Total; _ = InvokeAsync(StateHasChanged); }
            return new GridData<ScheduleView> { Items = items, TotalItems = page.Total };
        }
        catch (OperationCanceledException) { throw; }
        catch (Exception e)
        {
            Snackbar.Add($"Could not load schedules: {e.Message}", Severity.Error);
            return new GridData<ScheduleView> { Items = [], TotalItems = 0 };
        }
    }

    private Task ReloadAsync() => InvokeAsync(() => _grid?.ReloadServerData() ?? Task.CompletedTask);

    private void Apply(string? q, string? status) =>
        Navigation.NavigateTo(Navigation.GetUriWithQueryParameters(new Dictionary<string, object?>
        {
            ["q"] = string.IsNullOrWhiteSpace(q) ? null : q.Trim(),
            ["status"] = string.IsNullOrWhiteSpace(status) ? null : status,
        }), replace: true);

    private ScheduleActions Actions => _actions ??= new(Schedules, Actor, Dialogs, Snackbar);

    private async Task ActAsync(ScheduleVerb verb, ScheduleView s)
    {
        if (!await Actions.ConfirmAsync(verb, s)) return;
        _busy = true;
        try { await Actions.RunAsync(verb, s); }
        finally
        {
            _busy = false;
            await ReloadAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_live is not null) await _live.DisposeAsync();
    }
}
