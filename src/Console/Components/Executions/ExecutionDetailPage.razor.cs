using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Console.Live;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;

namespace Taskdeck.Console.Components.Executions;

public partial class ExecutionDetailPage : IAsyncDisposable
{
    private ExecutionDetail? _detail;
    private bool _missing;
    private bool _deleted;
    private bool _busy;
    private int _attempt;
    private LiveViewer<ExecutionDetailSnapshot>? _view;
    private List<BreadcrumbItem> _crumbs = [];

    [Parameter] public long Id { get; set; }

    [Inject] public required ExecutionQueries Queries { get; init; }
    [Inject] public required Microsoft.Extensions.Options.IOptions<Core.TaskdeckOptions> Options { get; init; }
    [Inject] public required ExecutionService Executions { get; init; }
    [Inject] public required LiveModels Live { get; init; }
    [Inject] public required Core.Workers.NodeIdentity Node { get; init; }
    [Inject] public required PageVisibility Visibility { get; init; }
    [Inject] public required IDialogService Dialogs { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }

    protected override async Task OnParametersSetAsync()
    {
        if (_view?.Model is ExecutionDetailModel { Id: var shown } && shown == Id) return;
        _detail = null;
        _missing = _deleted = false;
        _attempt = 0;
        _crumbs = [new("Executions", "/executions"), new($"#{Id}", null, disabled: true)];
        var previous = _view;
        // The execution's shared model: every page showing it shares its reads; a hidden tab is handed nothing.
        _view = Live.WatchExecution(Id, new LivePage(Visibility, InvokeAsync), update => { Show(update.Snapshot); return Task.CompletedTask; });
        if (previous is not null) await previous.DisposeAsync();
        Show(await _view.CurrentAsync(), render: false);
    }

    private void Show(ExecutionDetailSnapshot snapshot, bool render = true)
    {
        if (snapshot.Deleted) { _deleted = _missing = true; _detail = null; }
        else if (snapshot.Detail is not { } detail) { _missing = true; _detail = null; }
        else
        {
            var previousLatest = _detail?.Attempts.LastOrDefault()?.Number ?? 0;
            _missing = false;
            _detail = detail;
            _crumbs = [new("Executions", "/executions"), new($"#{Id} {detail.Execution.Name}", null, disabled: true)];
            var latest = detail.Attempts.LastOrDefault()?.Number ?? 0;
            // Follow a new attempt when the viewer was looking at the latest one.
            if (_attempt == 0 || _attempt == previousLatest) _attempt = latest;
        }
        if (render) StateHasChanged();
    }

    private void SelectAttempt(int number) => _attempt = number;

    /// <summary>
    /// The reader of one log, bound to this execution and attempt now: the log's model is shared by every page showing it and
    /// reads again when the attempt ends, by which time this page may show another attempt or execution.
    /// </summary>
    private Func<long, CancellationToken, Task<IReadOnlyList<LogEntry>>> LogsOf(int attempt, LogStream stream)
    {
        var id = Id;
        return (after, ct) => LogsOfStreamAsync(Queries, id, attempt, stream, after, ct);
    }

    /// <summary>Whether the attempt runs on another node (its lines are published there, not here).</summary>
    private bool RunsElsewhere(Attempt? attempt) => attempt?.NodeId is { } node && node != Node.Id;

    internal static async Task<IReadOnlyList<LogEntry>> LogsOfStreamAsync(ExecutionQueries queries, long id, int attempt, LogStream stream, long after, CancellationToken ct)
    {
        var all = new List<LogEntry>();
        while (true)
        {
            // The stream in the query: a tail read of a quiet stream beside a busy one reads nothing, not the busy one's lines.
            var page = await queries.LogsAsync(id, attempt, after, 5000, stream, ct);
            all.AddRange(page);
            if (page.Count < 5000) return all;
            after = page[^1].Id;
        }
    }

    private Task CancelAsync() => ActAsync("Cancel", "Waiting work is cancelled at once; running work is asked to stop.", async ct => await Executions.CancelAsync(Id, await Actor.ForAsync(Auth.Policies.Operate), "cancelled from the console", ct));
    private Task RetryAsync() => ActAsync("Retry", "It goes back to the queue for a new attempt.", async ct => await Executions.RetryAsync(Id, await Actor.ForAsync(Auth.Policies.Operate), "retried from the console", ct));

    private async Task DeleteAsync()
    {
        if (_detail is null) return;
        if (!await Dialogs.ConfirmAsync($"Delete execution #{Id}?", $"#{Id} ({_detail.Execution.Name}) is deleted with its attempts, logs and history. This cannot be undone.", "Delete")) return;
        Core.Executions.ActionOutcome outcome;
        try { outcome = await Executions.DeleteAsync(Id, await Actor.ForAsync(Auth.Policies.Operate)); }
        catch (UnauthorizedAccessException e) { Snackbar.Add(e.Message, Severity.Error); return; }
        Snackbar.Report(outcome);
        if (outcome.Done) Navigation.NavigateTo("/executions");
    }

    private async Task ActAsync(string verb, string consequence, Func<CancellationToken, Task<ActionOutcome>> action)
    {
        if (_detail is null) return;
        if (!await Dialogs.ConfirmAsync($"{verb} execution #{Id}?", $"#{Id} ({_detail.Execution.Name}) is {StateStyle.Label(_detail.Execution.State).ToLowerInvariant()}. {consequence}", verb)) return;
        _busy = true;
        try
        {
            Snackbar.Report(await action(CancellationToken.None));
            (_view?.Model as ExecutionDetailModel)?.Invalidate();
        }
        catch (Exception e) { Snackbar.Add($"{verb} failed: {e.Message}", Severity.Error); }
        finally { _busy = false; }
    }

    public async ValueTask DisposeAsync()
    {
        if (_view is not null) await _view.DisposeAsync();
    }
}
