using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Schedules;
using Taskdeck.Data.Dags;
using Taskdeck.Data.Dashboard;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Schedules;
using Taskdeck.Data.WorkTasks;

namespace Taskdeck.Console.Live;

/// <summary>
/// The console's shared live read models, one per distinct query, alive while some page watches it: the last viewer to
/// leave disposes it and drops it from the registry, so a query nobody watches any more costs nothing and holds nothing.
/// Every signed-in role reads every execution, run, schedule and worker today, so a model per query is safe to share
/// between users; a role that may see only some rows would need its scope in the key. The read services a model queries
/// are resolved when it is created (a page that never shows a kind of model never needs its store).
/// </summary>
public sealed class LiveModels(ExecutionEvents events, IServiceProvider services, IOptions<LiveCadence> cadence, TimeProvider time, ILoggerFactory loggers)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<object, Entry> _models = [];
    private readonly ILogger _logger = loggers.CreateLogger<LiveModels>();

    private sealed class Entry(object model)
    {
        public object Model { get; } = model;
        public int Viewers { get; set; }
    }

    private sealed record DashboardKey(string Range);
    private sealed record DagRunKey(long RunId);
    private sealed record ExecutionKey(long Id);
    private sealed record LogKey(long ExecutionId, int Attempt, LogStream Stream);
    private sealed record ScheduleKey(string Name);

    /// <summary>The models alive now (for the bench and the tests).</summary>
    public IReadOnlyList<object> Models
    {
        get { lock (_gate) return _models.Values.Select(e => e.Model).ToList(); }
    }

    /// <summary>What every model has cost so far (queries and the pages' drawing).</summary>
    public LiveWork Work { get; } = new();

    private T Get<T>() where T : notnull => services.GetRequiredService<T>();

    public LiveViewer<ExecutionGridSnapshot> WatchExecutions(ExecutionGridQuery query, LivePage? page, Func<LiveUpdate<ExecutionGridSnapshot>, Task> onUpdate) =>
        Watch(query, () => new ExecutionGridModel(query, events, Get<ExecutionQueries>(), cadence.Value, time, _logger), page, onUpdate);

    public LiveViewer<DashboardSnapshot> WatchDashboard(string range, LivePage? page, Func<LiveUpdate<DashboardSnapshot>, Task> onUpdate) =>
        Watch(new DashboardKey(range), () => new DashboardModel(range, Get<DashboardQueries>(),
                TimeSpan.FromSeconds(Get<IOptions<TaskdeckOptions>>().Value.Leases.ExpirySeconds), events, cadence.Value, time, _logger),
            page, onUpdate);

    public LiveViewer<DagRunSnapshot> WatchDagRun(long runId, LivePage? page, Func<LiveUpdate<DagRunSnapshot>, Task> onUpdate) =>
        Watch(new DagRunKey(runId), () => new DagRunModel(runId, Get<DagQueries>(), Get<Core.Bulk.IBulkActionStore>(), events, cadence.Value, time, _logger), page, onUpdate);

    public LiveViewer<ExecutionDetailSnapshot> WatchExecution(long id, LivePage? page, Func<LiveUpdate<ExecutionDetailSnapshot>, Task> onUpdate) =>
        Watch(new ExecutionKey(id), () => new ExecutionDetailModel(id, Get<ExecutionQueries>(), events, cadence.Value, time, _logger), page, onUpdate);

    /// <param name="load">Reads the stored log (used by the first page that watches it; every page reads the same).</param>
    /// <param name="runsElsewhere">The attempt runs now on another node (decided by the first page that watches the log).</param>
    public LiveViewer<LogTail> WatchLog(long executionId, int attempt, LogStream stream, Func<long, CancellationToken, Task<IReadOnlyList<LogEntry>>> load,
        bool runsElsewhere, LivePage? page, Func<LiveUpdate<LogTail>, Task> onUpdate) =>
        Watch(new LogKey(executionId, attempt, stream), () => new LogTailModel(executionId, attempt, stream, load, runsElsewhere, events, cadence.Value, time, _logger),
            page, onUpdate);

    public LiveViewer<LiveList<DagRunListItem>> WatchDagRuns(DagRunListQuery query, LivePage? page, Func<LiveUpdate<LiveList<DagRunListItem>>, Task> onUpdate) =>
        Watch(query, () => new DagRunListModel(query, Get<DagQueries>(), events, cadence.Value, time, _logger), page, onUpdate);

    public LiveViewer<LiveList<WorkTaskRow>> WatchWorkTasks(WorkTaskListQuery query, LivePage? page, Func<LiveUpdate<LiveList<WorkTaskRow>>, Task> onUpdate) =>
        Watch(query, () => new WorkTaskListModel(query, Get<WorkTaskQueries>(), events, cadence.Value, time, _logger), page, onUpdate);

    public LiveViewer<LiveList<Components.Schedules.ScheduleView>> WatchSchedules(ScheduleListQuery query, LivePage? page,
        Func<LiveUpdate<LiveList<Components.Schedules.ScheduleView>>, Task> onUpdate) =>
        Watch(query, () => new ScheduleListModel(query, Get<ScheduleQueries>(), Get<ScheduleService>(), Get<ScheduleEvents>(), events, cadence.Value, time, _logger),
            page, onUpdate);

    public LiveViewer<ScheduleDetailSnapshot> WatchSchedule(string name, LivePage? page, Func<LiveUpdate<ScheduleDetailSnapshot>, Task> onUpdate) =>
        Watch(new ScheduleKey(name), () => new ScheduleDetailModel(name, Get<ScheduleQueries>(), Get<ScheduleService>(), Get<ScheduleEvents>(), events, cadence.Value, time, _logger),
            page, onUpdate);

    private LiveViewer<T> Watch<T>(object key, Func<LiveModel<T>> create, LivePage? page, Func<LiveUpdate<T>, Task> onUpdate) where T : class
    {
        LiveModel<T> model;
        lock (_gate)
        {
            if (!_models.TryGetValue(key, out var entry))
            {
                var created = create();
                created.ReportTo(Work);
                _models[key] = entry = new Entry(created);
            }
            entry.Viewers++;
            model = (LiveModel<T>)entry.Model;
        }
        var viewer = new LiveViewer<T>(model, key, page, onUpdate, ReleaseAsync);
        model.Add(viewer);
        return viewer;
    }

    private async ValueTask ReleaseAsync<T>(LiveViewer<T> viewer) where T : class
    {
        var last = false;
        lock (_gate)
        {
            viewer.Model.Remove(viewer);
            if (_models.TryGetValue(viewer.Key, out var entry) && --entry.Viewers == 0)
            {
                _models.Remove(viewer.Key);
                last = true;
            }
        }
        if (last) await viewer.Model.DisposeAsync();
    }
}
