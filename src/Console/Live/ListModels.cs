using Taskdeck.Console.Components.Schedules;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Dags;
using Taskdeck.Data.Schedules;
using Taskdeck.Data.WorkTasks;

namespace Taskdeck.Console.Live;

/// <summary>One page of the work tasks list: the URL's filter and the grid's page.</summary>
public sealed record WorkTaskListQuery(string? Type, string? Project, ExecutionState? State, int Skip, int Take);

/// <summary>
/// A page of work tasks, shared by every page that shows it. A state change of a row on the page is applied in place (its
/// state chip, attempt and last change; no query) unless it takes the row out of the state filter; a new execution (it may
/// be a work task), a deletion, or a row coming into the state filter makes it stale.
/// </summary>
public sealed class WorkTaskListModel : LiveListModel<WorkTaskRow>
{
    private readonly WorkTaskQueries _queries;

    public WorkTaskListModel(WorkTaskListQuery query, WorkTaskQueries queries, ExecutionEvents events, LiveCadence cadence, TimeProvider time, ILogger logger)
        : base(cadence, time, logger)
    {
        Query = query;
        _queries = queries;
        Follow(events.Subscribe(e => { if (e is StateChanged or ExecutionDeleted) OnChange(e); }));
    }

    public WorkTaskListQuery Query { get; }

    protected override long IdOf(WorkTaskRow row) => row.ExecutionId;

    protected override async Task<LiveList<WorkTaskRow>> QueryAsync(CancellationToken ct)
    {
        var (items, total) = await _queries.PageAsync(new WorkTaskFilter(Query.Type, Query.Project, Query.State is { } s ? [s] : null), Query.Skip, Query.Take, ct);
        return Page(items, total);
    }

    protected override LiveReaction React(object change, LiveList<WorkTaskRow> shown) => change switch
    {
        ExecutionDeleted => LiveReaction.Stale,
        StateChanged s when s.From is null || s.Transition == Transition.Submit => Query.State is { } st && st != s.To ? LiveReaction.Ignore : LiveReaction.Stale,
        StateChanged s when shown.Contains(s.ExecutionId) => Query.State is { } st && st != s.To ? LiveReaction.Stale : LiveReaction.Patch,
        StateChanged s => Query.State is { } st && st == s.To ? LiveReaction.Stale : LiveReaction.Ignore,
        _ => LiveReaction.Ignore,
    };

    protected override WorkTaskRow? Patch(WorkTaskRow row, object change)
    {
        if (change is not StateChanged s || s.At < row.UpdatedAt || (s.At == row.UpdatedAt && row.State == s.To)) return null;
        var attempts = s.Transition is Transition.Claim or Transition.ReportStarted && s.AttemptNumber > 0 ? s.AttemptNumber : row.AttemptCount;
        return row with { State = s.To, UpdatedAt = s.At, AttemptCount = attempts };
    }
}

/// <summary>One page of the DAG runs list: the URL's filter and the grid's page.</summary>
public sealed record DagRunListQuery(DagRunState? State, string? Tag, string? Schedule, int Skip, int Take);

/// <summary>
/// A page of DAG runs, shared by every page that shows it. A run's counts and state are aggregates of its tasks, so a task
/// change of a run on the page, a new run, or a deletion makes it stale (one read per interval for all viewers); changes of
/// runs off the page are ignored unless the page filters by run state (a run may then come onto it).
/// </summary>
public sealed class DagRunListModel : LiveListModel<DagRunListItem>
{
    private readonly DagQueries _queries;

    public DagRunListModel(DagRunListQuery query, DagQueries queries, ExecutionEvents events, LiveCadence cadence, TimeProvider time, ILogger logger)
        : base(cadence, time, logger)
    {
        Query = query;
        _queries = queries;
        Follow(events.Subscribe(e => { if (e is StateChanged { DagRunId: not null } or ExecutionDeleted) OnChange(e); }));
    }

    public DagRunListQuery Query { get; }

    protected override long IdOf(DagRunListItem row) => row.Run.Id;

    protected override async Task<LiveList<DagRunListItem>> QueryAsync(CancellationToken ct)
    {
        var (items, total) = await _queries.PageAsync(Query.State, Query.Tag, Query.Skip, Query.Take, ct, Query.Schedule);
        return Page(items, total);
    }

    protected override LiveReaction React(object change, LiveList<DagRunListItem> shown) => change switch
    {
        ExecutionDeleted => LiveReaction.Stale,
        StateChanged { DagRunId: { } run } s when shown.Contains(run) || s.From is null || Query.State is not null => LiveReaction.Stale,
        _ => LiveReaction.Ignore,
    };
}

/// <summary>One page of the schedules list: the URL's filter and the grid's page.</summary>
public sealed record ScheduleListQuery(string? Search, bool? Enabled, int Skip, int Take);

/// <summary>
/// A page of schedules, shared by every page that shows it: a firing of a schedule on the page, any other schedule change (a
/// created, renamed, paused or deleted schedule may enter or leave it) and a state change of a run whose chip is on the page
/// make it stale. Firings of schedules on other pages, most of the traffic, change nothing here.
/// </summary>
public sealed class ScheduleListModel : LiveListModel<ScheduleView>
{
    private readonly ScheduleQueries _queries;
    private readonly ScheduleService _schedules;
    private readonly ShownRuns _runs = new();

    public ScheduleListModel(ScheduleListQuery query, ScheduleQueries queries, ScheduleService schedules, ScheduleEvents scheduleEvents, ExecutionEvents events,
        LiveCadence cadence, TimeProvider time, ILogger logger)
        : base(cadence, time, logger)
    {
        Query = query;
        _queries = queries;
        _schedules = schedules;
        Follow(scheduleEvents.Subscribe(OnChange));
        Follow(events.Subscribe(e =>
        {
            if (e is StateChanged s && _runs.MakesStale(s, Gate)) OnChange(e);
        }));
    }

    public ScheduleListQuery Query { get; }

    protected override long IdOf(ScheduleView row) => row.Id;

    protected override async Task<LiveList<ScheduleView>> QueryAsync(CancellationToken ct)
    {
        var page = await _queries.PageAsync(Query.Search, Query.Enabled, Query.Skip, Query.Take, ct);
        var items = page.Items.Select(r => ScheduleView.From(r.Schedule, _schedules.NextFireTimes(r.Schedule, 1), r.LastFiring)).ToList();
        _runs.Found(items.Select(i => i.LastFiring?.Firing.ExecutionId).OfType<long>(), items.Select(i => i.LastFiring?.Firing.DagRunId).OfType<long>());
        return Page(items, page.Total);
    }

    protected override void OnQueryStarting()
    {
        base.OnQueryStarting();
        _runs.ReadStarting();
    }

    protected override void OnQueryCompleted(LiveList<ScheduleView> fresh)
    {
        base.OnQueryCompleted(fresh);
        if (_runs.ReadCompleted()) MarkStale();
    }

    protected override void OnFirstQueryFailed()
    {
        base.OnFirstQueryFailed();
        _runs.ReadCompleted();
    }

    protected override LiveReaction React(object change, LiveList<ScheduleView> shown) => change switch
    {
        ScheduleEvent { Change: ScheduleChange.Fired } e => shown.Contains(e.ScheduleId) ? LiveReaction.Stale : LiveReaction.Ignore,
        ScheduleEvent => LiveReaction.Stale,
        StateChanged => LiveReaction.Stale,
        _ => LiveReaction.Ignore,
    };

    // A view holds lists (next fire times): compare what the list shows.
    protected override bool SameShown(ScheduleView a, ScheduleView b) =>
        a with { Next = [], LastFiring = null } == b with { Next = [], LastFiring = null } && a.NextFire == b.NextFire
        && a.LastFiring?.Firing.Id == b.LastFiring?.Firing.Id && a.LastFiring?.ExecutionState == b.LastFiring?.ExecutionState && a.LastFiring?.DagRunState == b.LastFiring?.DagRunState;
}
