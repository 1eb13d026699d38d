using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Dags;
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
    private IReadOnlyDictionary<long, DagGroupNode>? _graphGroups;
    private IReadOnlyDictionary<ExecutionState, int> _counts = new Dictionary<ExecutionState, int>();
    private bool _missing;
    private int _tab;
    private IAsyncDisposable? _live;
    private List<BreadcrumbItem> _crumbs = [];

    [Parameter] public long Id { get; set; }

    [Inject] public required DagQueries Queries { get; init; }
    [Inject] public required LiveFeed Feed { get; init; }
    [Inject] public required DagService Dags { get; init; }
    [Inject] public required IDialogService Dialogs { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }

    private bool _busy;
    private List<DagTaskNode> _taskList = [];

    /// <summary>Each refresh reads the whole run: a big one refreshes less often (400 ms up to 1,000 tasks, 4 s at 10,000).</summary>
    private TimeSpan RefreshInterval() => TimeSpan.FromMilliseconds(Math.Clamp((_detail?.Tasks.Count ?? 0) * 0.4, 400, 4_000));

    private static bool CanKill(DagRunState state) => state is DagRunState.Queued or DagRunState.Running or DagRunState.Errored;
    private static bool CanRestart(DagRunState state) => state is DagRunState.Errored or DagRunState.Killed;

    private Task KillAsync() => ActAsync($"Kill DAG run #{Id}?",
        $"Run #{Id} becomes KILLED; each of its {_detail?.Tasks.Count(t => !t.State.IsTerminal()) ?? 0} unfinished tasks is cancelled (running ones are stopped).", "Kill run",
        (dags, actor) => dags.KillAsync(Id, actor));

    private Task RestartAsync() => ActAsync($"Restart DAG run #{Id}?",
        $"Every task of run #{Id} that did not succeed ({_detail?.Tasks.Count(t => t.State.IsTerminal() && t.State != ExecutionState.Succeeded) ?? 0}) runs again; succeeded tasks are kept.", "Restart",
        (dags, actor) => dags.RestartAsync(Id, actor));

    private Task KillTaskAsync(string task) => ActAsync($"Kill task '{task}'?",
        $"Task '{task}' of run #{Id} is cancelled; tasks that depend on it will not run.", "Kill task",
        (dags, actor) => dags.KillTaskAsync(Id, task, actor));

    private async Task ActAsync(string title, string message, string yes, Func<DagService, Core.Audit.Actor, Task<DagActionOutcome>> action)
    {
        if (!await Dialogs.ConfirmAsync(title, message, yes)) return;
        _busy = true;
        try
        {
            var outcome = await action(Dags, await Actor.ForAsync(Auth.Policies.Operate));
            Snackbar.Add(outcome.Message, outcome.Done ? Severity.Success : Severity.Error);
            await LoadAsync();
        }
        catch (Exception e) { Snackbar.Add($"{yes} failed: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }

    protected override async Task OnParametersSetAsync()
    {
        if (_live is not null) await _live.DisposeAsync();
        _crumbs = [new("DAG runs", "/dags"), new($"Run #{Id}", null, disabled: true)];
        var id = Id;
        _live = Feed.Subscribe(e => e is StateChanged s && s.DagRunId == id, _ => InvokeAsync(async () => { await LoadAsync(); StateHasChanged(); }), RefreshInterval);
        await LoadAsync();
    }

    private async Task LoadAsync()
    {
        _detail = await Queries.GetGraphAsync(Id);
        _missing = _detail is null;
        if (_detail is null) return;
        _attempts = await Queries.AttemptsAsync(Id);
        _taskList = _detail.Tasks.ToList();
        _counts = _detail.Tasks.GroupBy(t => t.State).ToDictionary(g => g.Key, g => g.Count());
        if (_detail.Tasks.Count <= GraphLimit)
        {
            _graphTasks = _detail.Tasks;
            _graphEdges = _detail.Edges.Select(e => (e.ParentExecutionId, e.ChildExecutionId)).ToList();
            _graphGroups = null;
            return;
        }
        // Too many to draw one by one: one node per expanded template, and if that is still too many, the first ones.
        var (groups, edges) = DagTaskGroups.Collapse(_detail.Tasks, _detail.Edges);
        _graphTasks = groups.Take(GraphLimit).Select(g => g.Node).ToList();
        _graphEdges = edges;
        _graphGroups = groups.ToDictionary(g => g.Node.ExecutionId);
    }

    public async ValueTask DisposeAsync()
    {
        if (_live is not null) await _live.DisposeAsync();
    }
}
