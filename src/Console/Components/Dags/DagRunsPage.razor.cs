using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Events;
using Taskdeck.Data.Dags;

namespace Taskdeck.Console.Components.Dags;

public partial class DagRunsPage : IAsyncDisposable
{
    private MudDataGrid<DagRunListItem>? _grid;
    private IAsyncDisposable? _live;
    /// <summary>False in the server's prerendered HTML, before the grid's first load: no rows yet is not "none".</summary>
    private bool _loaded;
    private string? _lastUri;

    [SupplyParameterFromQuery(Name = "state")] public string? State { get; set; }
    [SupplyParameterFromQuery(Name = "tag")] public string? Tag { get; set; }
    /// <summary>Only the runs this schedule started (a schedule's page links here).</summary>
    [SupplyParameterFromQuery(Name = "schedule")] public string? Schedule { get; set; }

    [Inject] public required DagQueries Queries { get; init; }
    [Inject] public required LiveFeed Feed { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }

    protected override void OnInitialized() =>
        _live = Feed.Subscribe(e => e is StateChanged { DagRunId: not null } || e is ExecutionDeleted, _ => InvokeAsync(() => _grid?.ReloadServerData() ?? Task.CompletedTask), TimeSpan.FromMilliseconds(750));

    protected override async Task OnParametersSetAsync()
    {
        if (_lastUri is not null && _lastUri != Navigation.Uri && _grid is not null) await _grid.ReloadServerData();
        _lastUri = Navigation.Uri;
    }

    private async Task<GridData<DagRunListItem>> LoadAsync(GridState<DagRunListItem> state, CancellationToken ct)
    {
        DagRunState? runState = Enum.TryParse<DagRunState>(State, true, out var s) ? s : null;
        var (items, total) = await Queries.PageAsync(runState, Tag, state.Page * state.PageSize, state.PageSize, ct, Schedule);
        _loaded = true;
        return new GridData<DagRunListItem> { Items = items, TotalItems = total };
    }

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
