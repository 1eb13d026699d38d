using Taskdeck.Console.Components.Schedules;
using Taskdeck.Core.Events;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Schedules;

namespace Taskdeck.Console.Live;

/// <summary>One schedule as its page shows it: its view (null when there is no such schedule) and its newest firings.</summary>
/// <param name="More">Older firings exist beyond <paramref name="Firings"/>.</param>
public sealed record ScheduleDetailSnapshot(ScheduleView? View, IReadOnlyList<FiringView> Firings, bool More);

/// <summary>
/// One schedule's page, shared by every page that shows it: its own changes and firings, and the state changes of the runs
/// its listed firings started, make it stale (one read per interval for every viewer).
/// </summary>
public sealed class ScheduleDetailModel : LiveModel<ScheduleDetailSnapshot>
{
    /// <summary>The newest firings read and shared; older ones a page loads on demand are its own.</summary>
    public const int Firings = 50;

    private readonly ScheduleQueries _queries;
    private readonly ScheduleService _schedules;
    private readonly ShownRuns _runs = new();
    private long _id = -1;

    public ScheduleDetailModel(string name, ScheduleQueries queries, ScheduleService schedules, ScheduleEvents scheduleEvents, ExecutionEvents events,
        LiveCadence cadence, TimeProvider time, ILogger logger)
        : base(cadence, time, logger)
    {
        Name = name;
        _queries = queries;
        _schedules = schedules;
        Follow(scheduleEvents.Subscribe(e =>
        {
            if (e.Name != name && e.ScheduleId != Interlocked.Read(ref _id)) return;
            lock (Gate) MarkStale();
        }));
        Follow(events.Subscribe(e =>
        {
            if (e is StateChanged s && _runs.MakesStale(s, Gate)) lock (Gate) MarkStale();
        }));
    }

    public string Name { get; }

    /// <summary>An act from a page (pause, resume, fire) changed it: read it again at the next interval.</summary>
    public void Invalidate()
    {
        lock (Gate) MarkStale();
    }

    protected override async Task<ScheduleDetailSnapshot> QueryAsync(CancellationToken ct)
    {
        if (await _queries.DetailAsync(Name, Firings + 1, ct) is not { } detail)
        {
            Interlocked.Exchange(ref _id, -1);
            return new ScheduleDetailSnapshot(null, [], false);
        }
        var (schedule, firings) = detail;
        var shown = firings.Take(Firings).ToList();
        Interlocked.Exchange(ref _id, schedule.Id);
        _runs.Found(shown.Select(f => f.Firing.ExecutionId).OfType<long>(), shown.Select(f => f.Firing.DagRunId).OfType<long>());
        return new ScheduleDetailSnapshot(ScheduleView.From(schedule, _schedules.NextFireTimes(schedule, 5), shown.FirstOrDefault()), shown, firings.Count > Firings);
    }

    protected override void OnQueryStarting() => _runs.ReadStarting();

    protected override void OnQueryCompleted(ScheduleDetailSnapshot fresh)
    {
        if (_runs.ReadCompleted()) MarkStale();
    }

    protected override void OnFirstQueryFailed() => _runs.ReadCompleted();
}
