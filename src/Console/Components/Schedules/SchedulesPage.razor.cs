using Microsoft.AspNetCore.Components;
using MudBlazor;
using Taskdeck.Console.Audit;
using Taskdeck.Console.Components.Shared;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Schedules;

namespace Taskdeck.Console.Components.Schedules;

/// <summary>Every schedule, paged in the database; filters live in the URL; actions go through Core's <see cref="ScheduleService"/>.</summary>
public partial class SchedulesPage : IAsyncDisposable
{
    private MudDataGrid<ScheduleView>? _grid;
    private IAsyncDisposable? _live;
    private bool _loaded;
    private bool _busy;
    private int? _total;
    private string? _lastUri;
    private HashSet<long> _visibleRuns = [];
    private HashSet<long> _visibleDagRuns = [];

    [SupplyParameterFromQuery(Name = "q")] public string? Q { get; set; }
    [SupplyParameterFromQuery(Name = "status")] public string? Status { get; set; }

    [Inject] public required ScheduleQueries Queries { get; init; }
    [Inject] public required ScheduleService Schedules { get; init; }
    [Inject] public required ScheduleFeed Feed { get; init; }
    [Inject] public required NavigationManager Navigation { get; init; }
    [Inject] public required IDialogService Dialogs { get; init; }
    [Inject] public required ISnackbar Snackbar { get; init; }
    [Inject] public required ConsoleActor Actor { get; init; }

    private bool HasFilters => !string.IsNullOrWhiteSpace(Q) || !string.IsNullOrWhiteSpace(Status);

    // Any schedule change or firing, and the state changes of the runs whose chips are on screen.
    protected override void OnInitialized() =>
        _live = Feed.Subscribe(_ => true, e => _visibleRuns.Contains(e.ExecutionId) || e.DagRunId is { } run && _visibleDagRuns.Contains(run), ReloadAsync);

    protected override async Task OnParametersSetAsync()
    {
        if (_lastUri is not null && _lastUri != Navigation.Uri && _grid is not null) await _grid.ReloadServerData();
        _lastUri = Navigation.Uri;
    }

    private async Task<GridData<ScheduleView>> LoadAsync(GridState<ScheduleView> state, CancellationToken ct)
    {
        bool? enabled = Status switch { "active" => true, "paused" => false, _ => null };
        try
        {
            var page = await Queries.PageAsync(Q, enabled, state.Page * state.PageSize, state.PageSize, ct);
            var items = page.Items.Select(r => ScheduleView.From(r.Schedule, Schedules.NextFireTimes(r.Schedule, 1), r.LastFiring)).ToList();
            _visibleRuns = items.Select(i => i.LastFiring?.Firing.ExecutionId).OfType<long>().ToHashSet();
            _visibleDagRuns = items.Select(i => i.LastFiring?.Firing.DagRunId).OfType<long>().ToHashSet();
            _loaded = true;
            if (_total != page.Total) { _total = page.Total; _ = InvokeAsync(StateHasChanged); }
            return new GridData<ScheduleView> { Items = items, TotalItems = page.Total };
        }
        catch (OperationCanceledException) { throw; }
        catch (Exception e)
        {
            Snackbar.Add($"Could not load schedules: {e.Message}", Severity.Error);
            return new GridData<ScheduleView> { Items = [], TotalItems = 0 };
        }
    }

    private Task ReloadAsync() => InvokeAsync(() => _grid?.ReloadServerData() ?? Task.CompletedTask);

    private void Apply(string? q, string? status) =>
        Navigation.NavigateTo(Navigation.GetUriWithQueryParameters(new Dictionary<string, object?>
        {
            ["q"] = string.IsNullOrWhiteSpace(q) ? null : q.Trim(),
            ["status"] = string.IsNullOrWhiteSpace(status) ? null : status,
        }), replace: true);

    private Task PauseAsync(ScheduleView s) =>
        ActAsync(s, "Pause", $"No slot of '{s.Name}' fires until it is resumed. Runs already started go on.", (id, actor) => Schedules.PauseAsync(id, actor));

    private Task ResumeAsync(ScheduleView s) =>
        ActAsync(s, "Resume", $"'{s.Name}' fires again from now; slots that passed while it was paused are not caught up.", (id, actor) => Schedules.ResumeAsync(id, actor));

    private Task DeleteAsync(ScheduleView s) =>
        ActAsync(s, "Delete", $"'{s.Name}' and its firing history are deleted. Runs it already started are kept." +
            (s.FromConfiguration ? " It is declared in configuration: the next start creates it again." : ""), (id, actor) => Schedules.DeleteAsync(id, actor));

    private Task TriggerAsync(ScheduleView s) =>
        ActAsync(s, "Trigger", $"Start a run of '{s.Name}' now, outside its cron, whatever its overlap policy.",
            async (id, actor) => (await Schedules.TriggerAsync(id, actor)).Outcome);

    private async Task ActAsync(ScheduleView s, string verb, string consequence, Func<long, Core.Audit.Actor, Task<ScheduleOutcome>> act)
    {
        if (!await Dialogs.ConfirmAsync($"{verb} schedule {s.Name}?", consequence, verb)) return;
        _busy = true;
        try
        {
            var outcome = await act(s.Id, await Actor.ForAsync(Auth.Policies.Operate));
            Snackbar.Add(outcome.Message, outcome.Done ? Severity.Success : Severity.Error);
        }
        catch (Exception e) { Snackbar.Add($"{verb} failed: {e.Message}", Severity.Error); }
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
