using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Dags;

namespace Taskdeck.Console.Components.Dags;

public partial class DagRunDetailPage : IAsyncDisposable
{
    /// <summary>SVG stays responsive up to a few thousand elements; past this the grid is the view.</summary>
    public const int GraphLimit = 2000;

    private DagRunGraph? _detail;
    private IReadOnlyList<DagTaskAttempt> _attempts = [];
    private IReadOnlyList<DagTaskNode> _graphTasks = [];
    private IReadOnlyList<(long Parent, long Child)> _graphEdges = [];
    private IReadOnlyDictionary<ExecutionState, int> _counts = new Dictionary<ExecutionState, int>();
    private bool _missing;
    private int _tab;
    private IAsyncDisposable? _live;
    private List<BreadcrumbItem> _crumbs = [];

    [Parameter] public long Id { get; set; }

    [Inject] public required DagRunQueries Queries { get; init; }
    [Inject] public required LiveFeed Feed { get; init; }

    protected override async Task OnParametersSetAsync()
    {
        if (_live is not null) await _live.DisposeAsync();
        _crumbs = [new("DAG runs", "/dags"), new($"Run #{Id}", null, disabled: true)];
        var id = Id;
        _live = Feed.Subscribe(e => e is StateChanged s && s.DagRunId == id, _ => InvokeAsync(async () => { await LoadAsync(); StateHasChanged(); }), TimeSpan.FromMilliseconds(400));
        await LoadAsync();
    }

    private async Task LoadAsync()
    {
        _detail = await Queries.GetAsync(Id);
        _missing = _detail is null;
        if (_detail is null) return;
        _attempts = await Queries.AttemptsAsync(Id);
        _counts = _detail.Tasks.GroupBy(t => t.State).ToDictionary(g => g.Key, g => g.Count());
        _graphTasks = _detail.Tasks.Count > GraphLimit ? _detail.Tasks.Take(GraphLimit).ToList() : _detail.Tasks;
        _graphEdges = _detail.Edges.Select(e => (e.ParentExecutionId, e.ChildExecutionId)).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        if (_live is not null) await _live.DisposeAsync();
    }
}
