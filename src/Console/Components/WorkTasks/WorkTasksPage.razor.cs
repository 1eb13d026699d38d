using System.Globalization;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Console.Live;
using Taskdeck.Core.Executions;
using Taskdeck.Data.WorkTasks;

namespace Taskdeck.Console.Components.WorkTasks;

/// <summary>Work tasks by type, status and project; a row opens the execution detail that runs it.</summary>
public partial class WorkTasksPage : IAsyncDisposable
{
    private static readonly TableColumn[] Columns =
        [new("Work task"), new("Type"), new("Project"), new("Status"), new("Priority"), new("Resources"), new("Runs as"), new("Attempts"), new("Created"), new("Updated")];
    private static readonly Func<WorkTaskRow, object> KeyOf = r => r.ExecutionId;

    private KeyedTable<WorkTaskRow>? _grid;
    private IReadOnlyList<string> _types = [];
    private LiveGrid<WorkTaskRow>? _live;
    private string? _lastUri;

    [SupplyParameterFromQuery(Name = "type")] public string? Type { get; set; }
    [SupplyParameterFromQuery(Name = "state")] public string? State { get; set; }
    [SupplyParameterFromQuery(Name = "project")] public string? Project { get; set; }

    [Inject] public required WorkTaskQueries Queries { get; init; }
    [Inject] public required LiveModels Live { get; init; }
    [Inject] public required PageVisibility Visibility { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }

    protected override async Task OnInitializedAsync()
    {
        // The rows come from the shared model of this filter and page: a state change of a row on it is applied in place, and
        // rows entering or leaving reload the grid quietly (nobody asked); a filter change shows that it loads.
        _live = new(new LivePage(Visibility, InvokeAsync), () => _grid?.ReloadQuietlyAsync() ?? Task.CompletedTask);
        _types = await Queries.TypesAsync();
    }

    protected override async Task OnParametersSetAsync()
    {
        if (_lastUri is not null && _lastUri != Navigation.Uri && _grid is not null) await _grid.ReloadFromFirstPageAsync();
        _lastUri = Navigation.Uri;
    }

    private async Task<GridData<WorkTaskRow>> LoadAsync(GridState<WorkTaskRow> state, CancellationToken ct)
    {
        ExecutionState? only = Enum.TryParse<ExecutionState>(State, true, out var s) ? s : null;
        var query = new WorkTaskListQuery(Blank(Type), Blank(Project), only, state.Page * state.PageSize, state.PageSize);
        return await _live!.LoadAsync(query, (page, onUpdate) => Live.WatchWorkTasks(query, page, onUpdate), ct);
    }

    private string EmptyText => string.IsNullOrEmpty(Type) && string.IsNullOrEmpty(State) && string.IsNullOrEmpty(Project)
        ? "No work tasks yet. Create one with POST /api/worktasks."
        : "No work task matches these filters.";

    private static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    private static string Resources(WorkTaskRow row)
    {
        var parts = new List<string>();
        if (row.Cores > 0) parts.Add($"{row.Cores.ToString("0.##", CultureInfo.InvariantCulture)} {(row.Cores == 1 ? "core" : "cores")}");
        if (row.MemoryMB > 0) parts.Add(row.MemoryMB >= 1024 ? $"{(row.MemoryMB / 1024.0).ToString("0.#", CultureInfo.InvariantCulture)} GB" : $"{row.MemoryMB} MB");
        if (row.Gpus > 0) parts.Add($"{row.Gpus} GPU");
        return parts.Count == 0 ? "—" : string.Join(" · ", parts);
    }

    private void Apply(string? type = null, string? state = null, string? project = null)
    {
        static string? Pick(string? changed, string? current) => changed is null ? current : changed.Length == 0 ? null : changed;
        Navigation.NavigateTo(Navigation.GetUriWithQueryParameters(new Dictionary<string, object?>
        {
            ["type"] = Pick(type, Type), ["state"] = Pick(state, State), ["project"] = Pick(project, Project),
        }), replace: true);
    }

    public async ValueTask DisposeAsync()
    {
        if (_live is not null) await _live.DisposeAsync();
    }
}
