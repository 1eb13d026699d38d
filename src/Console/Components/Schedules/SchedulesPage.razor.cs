using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Console.Live;
using Taskdeck.Core.Schedules;

namespace Taskdeck.Console.Components.Schedules;

/// <summary>Every schedule, paged in the database; filters live in the URL; actions go through Core's <see cref="ScheduleService"/>.</summary>
public partial class SchedulesPage : IAsyncDisposable
{
    private static readonly TableColumn[] Columns = [new("Name"), new("Starts"), new("When"), new("Next fire"), new("Last run"), new("", "actions-cell")];
    private static readonly Func<ScheduleView, object> KeyOf = s => s.Name;
    private static readonly Func<ScheduleView, string?> RowClassOf = s => s.Enabled ? "schedule-row" : "schedule-row paused-row";

    private KeyedTable<ScheduleView>? _grid;
    private LiveGrid<ScheduleView>? _live;
    private bool _busy;
    private int? _total;
    private string? _lastUri;
    private ScheduleActions? _actions;

    [SupplyParameterFromQuery(Name = "q")] public string? Q { get; set; }
    [SupplyParameterFromQuery(Name = "status")] public string? Status { get; set; }

    [Inject] public required ScheduleService Schedules { get; init; }
    [Inject] public required LiveModels Live { get; init; }
    [Inject] public required PageVisibility Visibility { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [Inject] public required IDialogService Dialogs { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }

    private string EmptyText => HasFilters
        ? "No schedule matches these filters."
        : "No schedules yet. Create one with New schedule, POST /api/schedules, or Taskdeck:Schedules in configuration.";

    private bool HasFilters => !string.IsNullOrWhiteSpace(Q) || !string.IsNullOrWhiteSpace(Status);

    // The rows come from the shared model of this filter and page (ScheduleListModel says which changes matter to it). Its
    // updates reload the grid quietly (nobody asked); a filter change and the operator's own act show that it loads.
    protected override void OnInitialized() =>
        _live = new(new LivePage(Visibility, InvokeAsync), () => _grid?.ReloadQuietlyAsync() ?? Task.CompletedTask);

    protected override async Task OnParametersSetAsync()
    {
        if (_lastUri is not null && _lastUri != Navigation.Uri && _grid is not null) await _grid.ReloadFromFirstPageAsync();
        _lastUri = Navigation.Uri;
    }

    private async Task<GridData<ScheduleView>> LoadAsync(GridState<ScheduleView> state, CancellationToken ct)
    {
        bool? enabled = Status switch { "active" => true, "paused" => false, _ => null };
        // A failed read is said in the table (KeyedTable), the rows it showed kept.
        var query = new ScheduleListQuery(string.IsNullOrWhiteSpace(Q) ? null : Q.Trim(), enabled, state.Page * state.PageSize, state.PageSize);
        var data = await _live!.LoadAsync(query, (page, onUpdate) => Live.WatchSchedules(query, page, onUpdate), ct);
        if (_total != data.TotalItems) { _total = data.TotalItems; _ = InvokeAsync(StateHasChanged); }
        return data;
    }

    private Task ReloadAsync() => InvokeAsync(() => _grid?.ReloadAsync() ?? Task.CompletedTask);

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
