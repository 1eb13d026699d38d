using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Console.Live;
using Taskdeck.Core.Bulk;
using Taskdeck.Core.Dags;
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
    private LiveViewer<DagRunSnapshot>? _view;
    private List<BreadcrumbItem> _crumbs = [];

    [Parameter] public long Id { get; set; }

    [Inject] public required LiveModels Live { get; init; }
    [Inject] public required PageVisibility Visibility { get; init; }
    [Inject] public required DagService Dags { get; init; }
    [Inject] public required IDialogService Dialogs { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }

    private bool _busy;
    /// <summary>A kill or restart of the run that someone else started (another page, the API, another node), as the run's last snapshot showed it.</summary>
    private BulkAction? _actElsewhere;
    /// <summary>The act this page started: followed by the page itself, so not shown again from the snapshot.</summary>
    private long? _ownAct;
    /// <summary>An act of this page's or anyone's on the run is under way: another would only be refused.</summary>
    private bool ActUnderWay => _busy || _actElsewhere is not null;
    private List<DagTaskNode> _taskList = [];
    /// <summary>A kill or restart of this run under way (started here or anywhere): its progress.</summary>
    private BulkProgress? _progress;

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
            // The run's own state changed too: the shared model reads it again at its next interval.
            (_view?.Model as DagRunModel)?.Invalidate();
            // A big kill or restart goes on in the background: its progress shows until it is done.
            if (outcome is { Done: true, Finished: false, BulkActionId: { } act } && _progress is not null)
            {
                _ownAct = act;
                if (_actElsewhere?.Id == act) _actElsewhere = null;
                await _progress.FollowAsync(act);
                (_view?.Model as DagRunModel)?.Invalidate();
            }
        }
        catch (Exception e) { Snackbar.Add($"{yes} failed: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }

    /// <summary>The run comes from its shared model: every page showing this run shares one read per interval.</summary>
    protected override async Task OnParametersSetAsync()
    {
        _crumbs = [new("DAG runs", "/dags"), new($"Run #{Id}", null, disabled: true)];
        if (_view?.Model is DagRunModel { RunId: var shown } && shown == Id) return;
        var previous = _view;
        _view = Live.WatchDagRun(Id, new LivePage(Visibility, InvokeAsync), update => { Show(update.Snapshot); StateHasChanged(); return Task.CompletedTask; });
        if (previous is not null) await previous.DisposeAsync();
        Show(await _view.CurrentAsync());
    }

    /// <summary>
    /// Someone else's kill or restart shows its progress here too, from the run's shared model (which reads it again every
    /// second while it lasts): no page reads it on its own.
    /// </summary>
    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (_busy || _progress is null) return;
        try { await _progress.ShowAsync(_actElsewhere); }
        catch (Exception e) { Snackbar.Add($"The result of a bulk action on this run could not be read: {e.Message}", Severity.Warning); }
    }

    private void Show(DagRunSnapshot snapshot)
    {
        _detail = snapshot.Detail;
        _missing = _detail is null;
        if (_detail is null) return;
        _actElsewhere = snapshot.ActUnderWay is { } act && act.Id != _ownAct ? act : null;
        _attempts = snapshot.Attempts;
        _taskList = _detail.Tasks.ToList();
        _counts = snapshot.Counts;
        _graphTasks = snapshot.GraphTasks;
        _graphEdges = snapshot.GraphEdges;
        _graphGroups = snapshot.GraphGroups;
    }

    public async ValueTask DisposeAsync()
    {
        if (_view is not null) await _view.DisposeAsync();
    }
}
