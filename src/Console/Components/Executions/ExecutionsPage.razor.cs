using System.Globalization;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;

namespace Taskdeck.Console.Components.Executions;

/// <summary>The executions grid: filtered, sorted and paged in the database; filters live in the URL.</summary>
public partial class ExecutionsPage : IAsyncDisposable
{
    private ExecutionsGrid? _grid;
    private HashSet<Execution> _selected = new(ExecutionById.Instance);
    private IReadOnlyCollection<ExecutionState> _states = [];
    private int? _total;
    private bool _busy;
    private IAsyncDisposable? _live;
    private string? _lastQuery;

    [SupplyParameterFromQuery(Name = "state")] public string? State { get; set; }
    [SupplyParameterFromQuery(Name = "task")] public string? TaskName { get; set; }
    [SupplyParameterFromQuery(Name = "queue")] public string? Queue { get; set; }
    [SupplyParameterFromQuery(Name = "tag")] public string? Tag { get; set; }
    [SupplyParameterFromQuery(Name = "dag")] public string? Dag { get; set; }
    [SupplyParameterFromQuery(Name = "range")] public string? Range { get; set; }
    [SupplyParameterFromQuery(Name = "q")] public string? Q { get; set; }
    [SupplyParameterFromQuery(Name = "sort")] public string? Sort { get; set; }
    /// <summary>Only the runs this schedule started (a schedule's page links here).</summary>
    [SupplyParameterFromQuery(Name = "schedule")] public string? Schedule { get; set; }

    [Inject] public required ExecutionQueries Queries { get; init; }
    [Inject] public required ExecutionService Executions { get; init; }
    [Inject] public required LiveFeed Feed { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [Inject] public required IDialogService Dialogs { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required TimeProvider Time { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }

    private Dictionary<long, Execution> _visible = [];

    protected override void OnInitialized() =>
        _live = Feed.Subscribe(e => e is StateChanged or ExecutionDeleted || e is ProgressChanged && _visible.ContainsKey(e.ExecutionId), OnEventsAsync, TimeSpan.FromMilliseconds(500));

    /// <summary>State changes and deletions reload the page of rows; progress only repaints the rows on screen.</summary>
    private Task OnEventsAsync(IReadOnlyList<ExecutionEvent> events) => InvokeAsync(async () =>
    {
        if (events.Any(e => e is StateChanged or ExecutionDeleted)) { await ReloadAsync(); return; }
        foreach (var p in events.OfType<ProgressChanged>())
            if (_visible.TryGetValue(p.ExecutionId, out var row)) { row.Progress = p.Progress; row.ProgressMessage = p.Message; }
        _grid?.Repaint();
    });

    protected override async Task OnParametersSetAsync()
    {
        _states = ParseStates(State);
        var query = Navigation.Uri;
        if (_lastQuery is not null && _lastQuery != query && _grid is not null)
        {
            _selected = new HashSet<Execution>(ExecutionById.Instance);
            await _grid.ReloadAsync();
        }
        _lastQuery = query;
    }

    private string EmptyText => HasFilters ? "No executions match these filters. Clear a filter to see more." : "No executions yet. Submit one from the Submit page or the API.";

    private bool HasFilters => new[] { State, TaskName, Queue, Tag, Dag, Range, Q, Schedule }.Any(v => !string.IsNullOrWhiteSpace(v));

    private async Task<GridData<Execution>> LoadAsync(GridState<Execution> state, CancellationToken ct)
    {
        var filter = CurrentFilter();
        var (sort, descending) = ToSort(state.SortDefinitions.FirstOrDefault());
        try
        {
            var page = await Queries.PageAsync(filter, sort, descending, state.Page * state.PageSize, state.PageSize, withTotal: true, ct);
            if (_total != page.Total) { _total = page.Total; _ = InvokeAsync(StateHasChanged); }
            _visible = page.Items.ToDictionary(e => e.Id);
            // Keep the selection in step with what the rows now say (states change live).
            var fresh = page.Items.ToDictionary(e => e.Id);
            _selected = new HashSet<Execution>(_selected.Select(e => fresh.GetValueOrDefault(e.Id) ?? e), ExecutionById.Instance);
            return new GridData<Execution> { Items = page.Items, TotalItems = page.Total };
        }
        catch (OperationCanceledException) { throw; }
        catch (Exception e)
        {
            Snackbar.Add($"Could not load executions: {e.Message}", Severity.Error);
            return new GridData<Execution> { Items = [], TotalItems = 0 };
        }
    }

    private (ExecutionSort, bool) ToSort(SortDefinition<Execution>? sort)
    {
        if (sort is null) return Sort == "oldest" ? (ExecutionSort.Oldest, false) : (ExecutionSort.Newest, false);
        return sort.SortBy switch
        {
            nameof(Execution.Id) => sort.Descending ? (ExecutionSort.Newest, false) : (ExecutionSort.Oldest, false),
            nameof(Execution.Name) => (ExecutionSort.Name, sort.Descending),
            nameof(Execution.State) => (ExecutionSort.State, sort.Descending),
            nameof(Execution.Priority) => (ExecutionSort.Priority, !sort.Descending),
            nameof(Execution.UpdatedAt) => (ExecutionSort.RecentlyUpdated, !sort.Descending),
            _ => (ExecutionSort.Newest, false),
        };
    }

    public ExecutionFilter CurrentFilter()
    {
        var now = Time.GetUtcNow();
        DateTimeOffset? from = Range switch
        {
            "15m" => now.AddMinutes(-15),
            "1h" => now.AddHours(-1),
            "24h" => now.AddHours(-24),
            "7d" => now.AddDays(-7),
            _ => null,
        };
        return new ExecutionFilter
        {
            States = _states.Count > 0 ? _states.ToList() : null,
            Name = Blank(TaskName), Queue = Blank(Queue), Tag = Blank(Tag),
            DagRunId = long.TryParse(Dag, NumberStyles.None, CultureInfo.InvariantCulture, out var dag) ? dag : null,
            CreatedFrom = from, Search = Blank(Q), Schedule = Blank(Schedule),
        };
    }

    private static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    private static IReadOnlyCollection<ExecutionState> ParseStates(string? text) =>
        (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => Enum.TryParse<ExecutionState>(s, true, out var st) ? st : (ExecutionState?)null)
            .OfType<ExecutionState>().Distinct().ToList();

    private void OnStatesChanged(IEnumerable<ExecutionState>? states) =>
        Apply(state: string.Join(",", (states ?? []).Order()));

    /// <summary>Every filter change is a navigation: the URL is the filter, so it can be shared.</summary>
    private void Apply(string? state = null, string? task = null, string? queue = null, string? tag = null, string? dag = null, string? range = null, string? q = null)
    {
        var values = new Dictionary<string, object?>
        {
            ["state"] = Blank(state ?? State), ["task"] = Blank(task ?? TaskName), ["queue"] = Blank(queue ?? Queue), ["tag"] = Blank(tag ?? Tag),
            ["dag"] = Blank(dag ?? Dag), ["range"] = Blank(range ?? Range), ["q"] = Blank(q ?? Q), ["schedule"] = Blank(Schedule),
        };
        // An explicitly cleared field arrives as "" and must win over the current value.
        if (state == "") values["state"] = null;
        if (task == "") values["task"] = null;
        if (queue == "") values["queue"] = null;
        if (tag == "") values["tag"] = null;
        if (dag == "") values["dag"] = null;
        if (range == "") values["range"] = null;
        if (q == "") values["q"] = null;
        Navigation.NavigateTo(Navigation.GetUriWithQueryParameters(values), replace: true);
    }

    private void ClearSchedule() => Navigation.NavigateTo(Navigation.GetUriWithQueryParameter("schedule", (string?)null), replace: true);

    private async Task ReloadAsync()
    {
        if (_grid is not null) await _grid.ReloadAsync();
        StateHasChanged();
    }

    private Task CancelAsync(IReadOnlyList<Execution> items) =>
        RunAsync("Cancel", items.Where(e => ExecutionActions.CanCancel(e.State)).ToList(), items.Count,
            "Waiting executions are cancelled at once; running ones are asked to stop.", (ids, actor, ct) => Executions.CancelManyAsync(ids, actor, "cancelled from the console", ct));

    private Task RetryAsync(IReadOnlyList<Execution> items) =>
        RunAsync("Retry", items.Where(e => ExecutionActions.CanRetry(e.State)).ToList(), items.Count,
            "Each goes back to the queue for a new attempt.", (ids, actor, ct) => Executions.RetryManyAsync(ids, actor, "retried from the console", ct));

    private Task DeleteAsync(IReadOnlyList<Execution> items) =>
        RunAsync("Delete", items.Where(e => ExecutionActions.CanDelete(e.State)).ToList(), items.Count,
            "Their attempts, logs and history are deleted too. This cannot be undone.", (ids, actor, ct) => Executions.DeleteManyAsync(ids, actor, ct));

    private async Task RunAsync(string verb, IReadOnlyList<Execution> applicable, int asked, string consequence, Func<IReadOnlyList<long>, Core.Audit.Actor, CancellationToken, Task<IReadOnlyList<ActionOutcome>>> action)
    {
        if (applicable.Count == 0) { Snackbar.Add($"None of the selected executions can be {verb.ToLowerInvariant()}ed in its current state.", Severity.Info); return; }
        var noun = applicable.Count == 1 ? "execution" : "executions";
        var skipped = asked - applicable.Count;
        var message = $"{verb} {applicable.Count} {noun}: {ExecutionActions.Describe(applicable)}. {consequence}"
            + (skipped > 0 ? $" {skipped} selected {(skipped == 1 ? "is" : "are")} skipped: {verb.ToLowerInvariant()} does not apply to {(skipped == 1 ? "its" : "their")} state." : "");
        if (!await Dialogs.ConfirmAsync($"{verb} {applicable.Count} {noun}?", message, $"{verb} {applicable.Count}")) return;
        _busy = true;
        try
        {
            // One act, one audit entry naming every record.
            var outcomes = await action(applicable.Select(e => e.Id).ToList(), await Actor.ForAsync(Auth.Policies.Operate), CancellationToken.None);
            if (outcomes.Count == 1) Snackbar.Report(outcomes[0]); else Snackbar.Report(verb, outcomes);
            _selected = new HashSet<Execution>(ExecutionById.Instance);
        }
        catch (Exception e)
        {
            Snackbar.Add($"{verb} failed: {e.Message}", Severity.Error);
        }
        finally
        {
            _busy = false;
            await ReloadAsync();
        }
    }

    private async Task ResetMatchingAsync()
    {
        var filter = CurrentFilter();
        int count;
        try { count = await Executions.CountResettableAsync(filter); }
        catch (Exception e) { Snackbar.Add($"Could not count matching executions: {e.Message}", Severity.Error); return; }
        if (count == 0) { Snackbar.Add("No failed, timed-out, cancelled, lost or expired execution matches these filters.", Severity.Info); return; }
        var noun = count == 1 ? "execution" : "executions";
        if (!await Dialogs.ConfirmAsync($"Reset {count:N0} {noun}?",
                $"{count:N0} finished-but-unsuccessful {noun} match the current filters and will be queued again for a new attempt.", $"Reset {count:N0}"))
            return;
        _busy = true;
        try
        {
            var reset = await Executions.ResetAsync(filter, await Actor.ForAsync(Auth.Policies.Operate));
            Snackbar.Add($"Reset {reset:N0} of {count:N0} {noun}.", reset == count ? Severity.Success : Severity.Warning);
        }
        catch (Exception e) { Snackbar.Add($"Reset failed: {e.Message}", Severity.Error); }
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
