using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Events;
using Taskdeck.Data.Dags;
using Taskdeck.Data.Dashboard;
using Taskdeck.Data.Executions;

namespace Taskdeck.Console.Live;

/// <summary>
/// The console's shared live read models, one per distinct query, alive while some page watches it. Every signed-in role
/// reads every execution, run and worker today, so a model per query is safe to share between users; a role that may see
/// only some rows would need its scope in the key.
/// </summary>
public sealed class LiveModels(
    ExecutionEvents events, ExecutionQueries executions, DashboardQueries dashboard, DagQueries dags, IOptions<LiveCadence> cadence,
    IOptions<TaskdeckOptions> options, TimeProvider time, ILoggerFactory loggers)
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

    /// <summary>The models alive now (for the bench and the tests).</summary>
    public IReadOnlyList<object> Models
    {
        get { lock (_gate) return _models.Values.Select(e => e.Model).ToList(); }
    }

    public LiveViewer<ExecutionGridSnapshot> WatchExecutions(ExecutionGridQuery query, PageVisibility? visibility, Action<LiveUpdate<ExecutionGridSnapshot>> onUpdate) =>
        Watch(query, () => new ExecutionGridModel(query, events, executions, cadence.Value, time, _logger), visibility, onUpdate);

    public LiveViewer<DashboardSnapshot> WatchDashboard(string range, PageVisibility? visibility, Action<LiveUpdate<DashboardSnapshot>> onUpdate) =>
        Watch(new DashboardKey(range), () => new DashboardModel(range, dashboard, TimeSpan.FromSeconds(options.Value.Leases.ExpirySeconds), events, cadence.Value, time, _logger),
            visibility, onUpdate);

    public LiveViewer<DagRunSnapshot> WatchDagRun(long runId, PageVisibility? visibility, Action<LiveUpdate<DagRunSnapshot>> onUpdate) =>
        Watch(new DagRunKey(runId), () => new DagRunModel(runId, dags, events, cadence.Value, time, _logger), visibility, onUpdate);

    private LiveViewer<T> Watch<T>(object key, Func<LiveModel<T>> create, PageVisibility? visibility, Action<LiveUpdate<T>> onUpdate) where T : class
    {
        LiveModel<T> model;
        lock (_gate)
        {
            if (!_models.TryGetValue(key, out var entry)) _models[key] = entry = new Entry(create());
            entry.Viewers++;
            model = (LiveModel<T>)entry.Model;
        }
        var viewer = new LiveViewer<T>(model, key, visibility, onUpdate, ReleaseAsync);
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
