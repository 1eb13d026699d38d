using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Dags;
using Taskdeck.Console.Live;
using Taskdeck.Data.Dags;

namespace Taskdeck.Console.Components.Dags;

public partial class DagRunsPage : IAsyncDisposable
{
    private static readonly TableColumn[] Columns = [new("Run"), new("Tag"), new("State"), new("Tasks"), new("Started"), new("Last update")];
    private static readonly Func<DagRunListItem, object> KeyOf = r => r.Run.Id;

    private KeyedTable<DagRunListItem>? _grid;
    private LiveGrid<DagRunListItem>? _live;
    private string? _lastUri;

    [SupplyParameterFromQuery(Name = "state")] public string? State { get; set; }
    [SupplyParameterFromQuery(Name = "tag")] public string? Tag { get; set; }
    /// <summary>Only the runs this schedule started (a schedule's page links here).</summary>
    [SupplyParameterFromQuery(Name = "schedule")] public string? Schedule { get; set; }

    [Inject] public required LiveModels Live { get; init; }
    [Inject] public required PageVisibility Visibility { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }

    /// <summary>
    /// The rows come from the shared model of this filter and page: every page that shows the same shares its reads. Its
    /// updates reload the grid quietly (nobody asked); a filter change shows that it loads.
    /// </summary>
    protected override void OnInitialized() =>
        _live = new(new LivePage(Visibility, InvokeAsync), () => _grid?.ReloadQuietlyAsync() ?? Task.CompletedTask);

    protected override async Task OnParametersSetAsync()
    {
        if (_lastUri is not null && _lastUri != Navigation.Uri && _grid is not null) await _grid.ReloadFromFirstPageAsync();
        _lastUri = Navigation.Uri;
    }

    private async Task<GridData<DagRunListItem>> LoadAsync(GridState<DagRunListItem> state, CancellationToken ct)
    {
        DagRunState? runState = Enum.TryParse<DagRunState>(State, true, out var s) ? s : null;
        var query = new DagRunListQuery(runState, Blank(Tag), Blank(Schedule), state.Page * state.PageSize, state.PageSize);
        return await _live!.LoadAsync(query, (page, onUpdate) => Live.WatchDagRuns(query, page, onUpdate), ct);
    }

    private string EmptyText => string.IsNullOrEmpty(State) && string.IsNullOrEmpty(Tag) && string.IsNullOrEmpty(Schedule)
        ? "No DAG runs yet. Submit a DAG from the Submit page or POST /v1/dagrun."
        : "No DAG run matches these filters.";

    private static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    private void Apply(string? state, string? tag) =>
        Navigation.NavigateTo(Navigation.GetUriWithQueryParameters(new Dictionary<string, object?>
        {
            ["state"] = string.IsNullOrWhiteSpace(state) ? null : state,
            ["tag"] = string.IsNullOrWhiteSpace(tag) ? null : tag,
        }), replace: true);

    private void ClearSchedule() => Navigation.NavigateTo(Navigation.GetUriWithQueryParameter("schedule", (string?)null), replace: true);

    public async ValueTask DisposeAsync()
    {
        if (_live is not null) await _live.DisposeAsync();
    }
}
