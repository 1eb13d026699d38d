using System.Linq.Expressions;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Dags;
using Taskdeck.Console.Live;
using Taskdeck.Data.Dags;

namespace Taskdeck.Console.Components.Dags;

public partial class DagRunsPage : IAsyncDisposable
{
    // A lambda written in the markup is a new expression at every render of the grid, and MudBlazor's PropertyColumn compiles
    // a new one each time: held once here, a live reload compiles nothing.
    private static readonly Expression<Func<DagRunListItem, long>> ByRun = r => r.Run.Id;
    private static readonly Expression<Func<DagRunListItem, string>> ByTag = r => r.Run.Tag;
    private static readonly Expression<Func<DagRunListItem, DagRunState>> ByState = r => r.Run.State;
    private static readonly Expression<Func<DagRunListItem, DateTimeOffset>> ByStarted = r => r.Run.CreatedAt;
    private static readonly Expression<Func<DagRunListItem, DateTimeOffset>> ByLastUpdate = r => r.Run.UpdatedAt;

    private QuietReloadGrid<DagRunListItem>? _grid;
    private LiveGrid<DagRunListItem>? _live;
    /// <summary>False in the server's prerendered HTML, before the grid's first load: no rows yet is not "none".</summary>
    private bool _loaded;
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
        if (_lastUri is not null && _lastUri != Navigation.Uri && _grid is not null) await _grid.ReloadServerData();
        _lastUri = Navigation.Uri;
    }

    private async Task<GridData<DagRunListItem>> LoadAsync(GridState<DagRunListItem> state, CancellationToken ct)
    {
        DagRunState? runState = Enum.TryParse<DagRunState>(State, true, out var s) ? s : null;
        var query = new DagRunListQuery(runState, Blank(Tag), Blank(Schedule), state.Page * state.PageSize, state.PageSize);
        var data = await _live!.LoadAsync(query, (page, onUpdate) => Live.WatchDagRuns(query, page, onUpdate), ct);
        _loaded = true;
        return data;
    }

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
