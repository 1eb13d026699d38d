using System.Globalization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;
using Taskdeck.Console.Audit;
using Microsoft.JSInterop;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Bulk;
using Taskdeck.Console.Live;
using Taskdeck.Core.Executions;
using Taskdeck.Data.Executions;

namespace Taskdeck.Console.Components.Executions;

/// <summary>
/// The executions grid: filtered, sorted and paged in the database; filters live in the URL. The rows come from the shared
/// live model of this page's query (<see cref="ExecutionGridModel"/>): a change to a row on screen repaints that row alone,
/// rows entering or leaving redraw the grid from the model's snapshot (no query of this page's own). While the operator
/// reads — text selected in the grid — updates are held and counted on a chip instead of moving rows under the pointer.
/// </summary>
public partial class ExecutionsPage : IAsyncDisposable
{
    private ExecutionsGrid? _grid;
    private ElementReference _gridArea;
    private PausedChip? _chip;
    private HashSet<Execution> _selected = new(ExecutionById.Instance);
    private IReadOnlyCollection<ExecutionState> _states = [];
    private MatchingTotal? _matching;
    private bool _busy;
    private string? _lastQuery;
    private readonly LiveRows _rows = new();
    private LiveViewer<ExecutionGridSnapshot>? _view;
    private long _shownVersion;
    private bool _reading;
    private int _held;
    private IJSObjectReference? _module;
    private IJSObjectReference? _readingWatch;
    private DotNetObjectReference<ExecutionsPage>? _self;
    private ITimer? _ticker;
    private Func<GridState<Execution>, CancellationToken, Task<GridData<Execution>>>? _load;

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

    [Inject] public required LiveModels Live { get; init; }
    [Inject] public required PageVisibility Visibility { get; init; }
    [Inject] public required ExecutionService Executions { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [Inject] public required IDialogService Dialogs { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required TimeProvider Time { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }
    [Inject] public required IJSRuntime JS { get; init; }
    [Inject] public required IAuthorizationService Authorization { get; init; }

    [CascadingParameter] private Task<AuthenticationState>? Authentication { get; set; }
    private Task<AuthenticationState>? _checkedFor;
    /// <summary>
    /// Whether this user may cancel, retry, delete and reset: asked of the Operate policy here only, once per sign-in state;
    /// the toolbar's acts and the grid's row actions both follow this one answer.
    /// </summary>
    private bool _mayOperate;

    /// <summary>Starts the page's bulk acts and shows their progress while they run.</summary>
    private BulkProgress? _progress;
    private bool _disposed;

    /// <summary>Updates held while the operator reads (shown on the chip).</summary>
    public int HeldChanges => _held;

    protected override void OnInitialized()
    {
        // One delegate for the page's life: a new one at each render would be a changed parameter for the grid.
        _load = LoadAsync;
        // Running rows' durations grow: once a second those rows repaint (no query, no other row).
        _ticker = Time.CreateTimer(_ =>
        {
            if (!Visibility.Hidden && !Volatile.Read(ref _reading)) _ = InvokeAsync(_rows.RepaintActive);
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>How many times the page itself rendered (not the grid's rows).</summary>
    internal int OwnRenders { get; private set; }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        OwnRenders++;
        if (!firstRender) return;
        try
        {
            _module = await JS.InvokeAsync<IJSObjectReference>("import", "./js/live.js");
            if (_module is null) return;
            _self = DotNetObjectReference.Create(this);
            _readingWatch = await _module.InvokeAsync<IJSObjectReference>("watchReading", _gridArea, _self);
        }
        catch (JSDisconnectedException) { }
        catch (JSException) { }
        catch (InvalidOperationException) { } // prerendering or a test renderer without a browser
    }

    /// <summary>Called by the browser when text inside the grid becomes selected (the operator reads) or is cleared.</summary>
    [JSInvokable]
    public Task SetReading(bool reading) => InvokeAsync(async () =>
    {
        if (_reading == reading) return;
        _reading = reading;
        if (reading) _chip?.Show(_held);
        else await ResumeAsync();
    });

    /// <summary>The chip's click: show what was held, and stop holding.</summary>
    private async Task ResumeClickedAsync()
    {
        _reading = false;
        if (_module is not null)
        {
            try { await _module.InvokeVoidAsync("clearSelection"); } catch (JSException) { } catch (JSDisconnectedException) { }
        }
        await ResumeAsync();
    }

    private async Task ResumeAsync()
    {
        var held = _held;
        _held = 0;
        _chip?.Hide();
        if (held > 0) await RefreshAsync();
    }

    /// <summary>On the page's circuit (the model times it): counted on the chip while the operator reads, else shown.</summary>
    private async Task OnUpdate(LiveUpdate<ExecutionGridSnapshot> update)
    {
        if (Volatile.Read(ref _reading))
        {
            _chip?.Show(Interlocked.Add(ref _held, update.Changes));
            return;
        }
        if (_view is null || update.Version <= _shownVersion) return;
        if (update.Reshaped) { await RefreshAsync(); return; }
        _shownVersion = update.Version;
        var selectedChanged = false;
        foreach (var id in update.ChangedRows)
        {
            if (update.Snapshot.Find(id) is not { } row) continue;
            _rows.Update(row);
            selectedChanged |= _selected.Contains(row);
        }
        // The bulk buttons follow the selected rows' states.
        if (selectedChanged) StateHasChanged();
    }

    protected override async Task OnParametersSetAsync()
    {
        if (Authentication is { } authentication && !ReferenceEquals(authentication, _checkedFor))
        {
            _checkedFor = authentication;
            _mayOperate = (await Authorization.AuthorizeAsync((await authentication).User, Auth.Policies.Operate)).Succeeded;
        }
        _states = ParseStates(State);
        var query = Navigation.Uri;
        if (_lastQuery is not null && _lastQuery != query && _grid is not null)
        {
            _selected = new HashSet<Execution>(ExecutionById.Instance);
            await _grid.ReloadFromFirstPageAsync();
        }
        _lastQuery = query;
    }

    private string EmptyText => HasFilters ? "No executions match these filters. Clear a filter to see more." : "No executions yet. Submit one from the Submit page or the API.";

    private bool HasFilters => new[] { State, TaskName, Queue, Tag, Dag, Range, Q, Schedule }.Any(v => !string.IsNullOrWhiteSpace(v));

    private async Task<GridData<Execution>> LoadAsync(GridState<Execution> state, CancellationToken ct)
    {
        var (sort, descending) = ToSort(state.SortDefinitions.FirstOrDefault());
        var query = CurrentQuery() with { Sort = sort, Descending = descending, Skip = state.Page * state.PageSize, Take = state.PageSize };
        try
        {
            if (_view is null || !Equals(_view.Key, query))
            {
                var previous = _view;
                _view = Live.WatchExecutions(query, new LivePage(Visibility, InvokeAsync), OnUpdate);
                _shownVersion = 0;
                if (previous is not null) await previous.DisposeAsync();
            }
            var view = _view;
            var page = await view.CurrentAsync(ct);
            // A newer load took over while this one waited (the wait may end after its cancellation): it sets the rows.
            ct.ThrowIfCancellationRequested();
            _shownVersion = view.Model.Version;
            _rows.Reset(page.Rows);
            _ = InvokeAsync(() => _matching?.Show(page.Total));
            // The selection keeps its objects: the bulk buttons and acts read each selected row as LiveRows has it now. A new
            // set here would be a new parameter for the grid, and a render more for nothing.
            return new GridData<Execution> { Items = page.Rows, TotalItems = page.Total };
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

    /// <summary>The URL's filter as a live query (sort and page come from the grid).</summary>
    public ExecutionGridQuery CurrentQuery() => new(
        ExecutionGridQuery.StatesText(_states), Blank(TaskName), Blank(Queue), Blank(Tag),
        long.TryParse(Dag, NumberStyles.None, CultureInfo.InvariantCulture, out var dag) ? dag : null,
        Range is "15m" or "1h" or "24h" or "7d" ? Range : null, Blank(Q), Blank(Schedule));

    public ExecutionFilter CurrentFilter() => CurrentQuery().ToFilter(Time.GetUtcNow());

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

    /// <summary>After the operator's own act: the grid shows that it loads.</summary>
    private async Task ReloadAsync()
    {
        if (_grid is not null) await _grid.ReloadAsync();
        StateHasChanged();
    }

    /// <summary>
    /// Rows entered or left the page's query, or held updates are let through: nobody asked, so the grid reads the model's
    /// snapshot again without a loading bar and is drawn once.
    /// </summary>
    private async Task RefreshAsync()
    {
        if (_grid is not null) await _grid.ReloadQuietlyAsync();
        // The grid draws its rows and the total its number; the page around them (its filters and buttons) changes with the
        // rows only through the bulk buttons, which follow the selected rows' states. Drawing it at every refresh of a live
        // page would set every filter's and button's parameters again, on every open page (issue 15).
        if (_selected.Count > 0) StateHasChanged();
    }

    private Task CancelAsync(IReadOnlyList<Execution> items) =>
        RunAsync("Cancel", Now(items).Where(e => ExecutionActions.CanCancel(e.State)).ToList(), items.Count,
            "Waiting executions are cancelled at once; running ones are asked to stop.", (ids, actor, ct) => Executions.CancelManyAsync(ids, actor, "cancelled from the console", ct));

    private Task RetryAsync(IReadOnlyList<Execution> items) =>
        RunAsync("Retry", Now(items).Where(e => ExecutionActions.CanRetry(e.State)).ToList(), items.Count,
            "Each goes back to the queue for a new attempt.", (ids, actor, ct) => Executions.RetryManyAsync(ids, actor, "retried from the console", ct));

    /// <summary>The rows as the page shows them now (a selected row may have changed state since it was selected).</summary>
    private IReadOnlyList<Execution> Now(IEnumerable<Execution> items) => items.Select(_rows.Current).ToList();

    private Task DeleteAsync(IReadOnlyList<Execution> items) =>
        RunAsync("Delete", Now(items).Where(e => ExecutionActions.CanDelete(e.State)).ToList(), items.Count,
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

    /// <summary>
    /// The toolbar's acts on the selection: one stored bulk act (<see cref="BulkActions"/>, the path of
    /// <c>POST /api/executions/bulk</c>) naming the rows it applies to, carried out in batches by the server as the
    /// signed-in actor, and audited once when done.
    /// </summary>
    private async Task BulkAsync(BulkActionKind kind, IReadOnlyList<Execution> items)
    {
        var (applies, consequence, reason) = kind switch
        {
            BulkActionKind.Cancel => ((Func<ExecutionState, bool>)ExecutionActions.CanCancel, "Waiting executions are cancelled at once; running ones are asked to stop.", "cancelled from the console"),
            BulkActionKind.Retry => (ExecutionActions.CanRetry, "Each goes back to the queue for a new attempt.", "retried from the console"),
            BulkActionKind.Delete => (ExecutionActions.CanDelete, "Their attempts, logs and history are deleted too. This cannot be undone.", "deleted from the console"),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var verb = Verb(kind);
        var applicable = Now(items).Where(e => applies(e.State)).ToList();
        if (applicable.Count == 0) { Snackbar.Add($"None of the selected executions can be {verb.ToLowerInvariant()}ed in its current state.", Severity.Info); return; }
        var noun = applicable.Count == 1 ? "execution" : "executions";
        var skipped = items.Count - applicable.Count;
        var message = $"{verb} {applicable.Count} {noun}: {ExecutionActions.Describe(applicable)}. {consequence}"
            + (skipped > 0 ? $" {skipped} selected {(skipped == 1 ? "is" : "are")} skipped: {verb.ToLowerInvariant()} does not apply to {(skipped == 1 ? "its" : "their")} state." : "");
        if (!await Dialogs.ConfirmAsync($"{verb} {applicable.Count} {noun}?", message, $"{verb} {applicable.Count}")) return;
        var draft = new BulkAction { Kind = kind, Reason = reason };
        draft.SetIds(applicable.Select(e => e.Id));
        if (await FollowAsync(draft)) _selected = new HashSet<Execution>(ExecutionById.Instance);
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
        await FollowAsync(new BulkAction { Kind = BulkActionKind.Reset, FilterJson = filter.ToJson(), Total = count, Reason = "reset from the console" });
    }

    /// <summary>Stores and starts the act as the signed-in actor and follows it (the act goes on if the page goes away). True once it was started.</summary>
    private async Task<bool> FollowAsync(BulkAction draft)
    {
        if (_progress is null) return false;
        _busy = true;
        try
        {
            var actor = await Actor.ForAsync(Auth.Policies.Operate);
            return await _progress.RunAsync(draft, actor) is not null;
        }
        catch (UnauthorizedAccessException e)
        {
            Snackbar.Add(e.Message, Severity.Error);
            return false;
        }
        finally
        {
            _busy = false;
            if (!_disposed) await ReloadAsync();
        }
    }

    private static string Verb(BulkActionKind kind) => BulkProgress.Verb(kind);

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        _ticker?.Dispose();
        if (_view is not null) await _view.DisposeAsync();
        try
        {
            if (_readingWatch is not null) { await _readingWatch.InvokeVoidAsync("dispose"); await _readingWatch.DisposeAsync(); }
            if (_module is not null) await _module.DisposeAsync();
        }
        catch (JSDisconnectedException) { }
        catch (JSException) { }
        _self?.Dispose();
    }
}
