using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Prometheus;
using Taskdeck.Core;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Console.WorkTasks;
using Taskdeck.Data.WorkTasks;

namespace Taskdeck.Console.Metrics;

/// <summary>
/// The Prometheus side of <c>/api/metrics</c>, through prometheus-net on a registry of our own. Gauges (queue length,
/// executions by state and task, work tasks by status and type, live worker nodes) are computed from database
/// aggregates at scrape time, so they are right on every node of a cluster; counters and the duration histogram
/// count what this node saw happen, fed by <see cref="ExecutionEvents"/>.
/// </summary>
public sealed class TaskdeckMetrics : IHostedService
{
    private readonly ExecutionEvents _events;
    private readonly WorkTaskQueries _queries;
    private readonly IOptions<TaskdeckOptions> _options;
    private readonly TimeProvider _time;
    private readonly NodeIdentity _node;
    private readonly Live.LiveWork _live;
    private readonly Gauge _queueLength, _workTaskQueueLength, _executions, _workTasks, _liveWorkers, _liveStretch;
    private readonly Counter _attemptsStarted, _attemptsFinished, _failures, _liveQuerying, _liveDrawing, _liveQueries;
    private readonly Histogram _duration;
    private readonly ConcurrentDictionary<(long Id, int Attempt), DateTimeOffset> _started = new();
    private readonly Dictionary<Gauge, HashSet<string[]>> _seenLabels = [];
    private readonly SemaphoreSlim _scrape = new(1, 1);
    private IDisposable? _subscription;

    /// <summary>Attempts whose start this node saw but whose end it did not (another node finished them) are forgotten past this.</summary>
    private const int MaxTrackedStarts = 100_000;

    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    public TaskdeckMetrics(ExecutionEvents events, WorkTaskQueries queries, NodeIdentity node, IOptions<TaskdeckOptions> options, TimeProvider time,
        Live.LiveModels live)
    {
        (_events, _queries, _node, _options, _time, _live) = (events, queries, node, options, time, live.Work);
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        _queueLength = f.CreateGauge("taskdeck_queue_length", "Executions waiting to start (pending, scheduled or queued).");
        _workTaskQueueLength = f.CreateGauge("taskdeck_worktask_queue_length", "Work tasks waiting to start.");
        _executions = f.CreateGauge("taskdeck_executions", "Executions by state and task name.", "state", "task");
        _workTasks = f.CreateGauge("taskdeck_worktasks", "Work tasks by status (work-task vocabulary) and type.", "status", "type");
        _liveWorkers = f.CreateGauge("taskdeck_live_worker_nodes", "Worker nodes whose lease is live.");
        _attemptsStarted = f.CreateCounter("taskdeck_attempts_started_total", "Attempts opened on this node (claims and external starts).");
        _attemptsFinished = f.CreateCounter("taskdeck_attempts_finished_total", "Attempts closed, by outcome.", "outcome");
        _failures = f.CreateCounter("taskdeck_failures_total", "Executions that ended failed, timed out, lost or expired, by state.", "state");
        _duration = f.CreateHistogram("taskdeck_attempt_duration_seconds", "Attempt duration from start to close, by outcome.",
            new HistogramConfiguration { LabelNames = ["outcome"], Buckets = Histogram.ExponentialBuckets(0.01, 4, 10) });
        _liveQuerying = f.CreateCounter("taskdeck_console_live_query_seconds_total", "Time the console's shared live views spent querying on this node, by kind of view.", "view");
        _liveQueries = f.CreateCounter("taskdeck_console_live_queries_total", "Queries the console's shared live views ran on this node, by kind of view.", "view");
        _liveDrawing = f.CreateCounter("taskdeck_console_live_render_seconds_total", "Time open console pages spent applying and drawing live updates on this node, by kind of view.", "view");
        _liveStretch = f.CreateGauge("taskdeck_console_live_interval_stretch",
            "How much the live views' refresh intervals are stretched to keep them within their share of a core (Taskdeck:Console:Live:Budget); 1 when they keep within it.");
        Registry.AddBeforeCollectCallback(RefreshAsync);
        NodeRuntimeMetrics.Register(Registry);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = _events.Subscribe(OnEvent);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription?.Dispose();
        return Task.CompletedTask;
    }

    // Called on the engine's thread: only in-memory counters, never I/O.
    private void OnEvent(ExecutionEvent e)
    {
        if (e is not StateChanged { Transition: { } transition } s) return;
        // Other nodes' changes are republished here for live pages; each node counts only its own, so sums add up.
        if (s.NodeId is { } by && by != _node.Id) return;
        if (StateMachine.OpensAttempt(transition))
        {
            _attemptsStarted.Inc();
            if (_started.Count < MaxTrackedStarts) _started[(s.ExecutionId, s.AttemptNumber)] = s.At;
        }
        else if (StateMachine.ClosesAttemptAs(transition) is { } outcome)
        {
            var label = outcome.ToString();
            _attemptsFinished.WithLabels(label).Inc();
            if (_started.TryRemove((s.ExecutionId, s.AttemptNumber), out var at))
                _duration.WithLabels(label).Observe(Math.Max(0, (s.At - at).TotalSeconds));
        }
        if (s.To is ExecutionState.Failed or ExecutionState.TimedOut or ExecutionState.Lost or ExecutionState.Expired)
            _failures.WithLabels(s.To.ToString()).Inc();
    }

    private async Task RefreshAsync(CancellationToken ct)
    {
        await _scrape.WaitAsync(ct);
        try
        {
            var executions = await _queries.CountExecutionsAsync(ct);
            _queueLength.Set(executions.Where(c => c.State.IsWaiting()).Sum(c => c.Count));
            SetAll(_executions, executions.Select(c => (new[] { c.State.ToString(), c.Name }, (double)c.Count)));

            var workTasks = await _queries.CountWorkTasksAsync(ct);
            _workTaskQueueLength.Set(workTasks.Where(c => c.State.IsWaiting()).Sum(c => c.Count));
            SetAll(_workTasks, workTasks
                .GroupBy(c => (Status: WorkTaskShape.Status(c.State, c.Kind, c.WorkerStarted), c.Type))
                .Select(g => (new[] { g.Key.Status, g.Key.Type }, (double)g.Sum(c => c.Count))));

            var cutoff = _time.GetUtcNow().AddSeconds(-_options.Value.Leases.ExpirySeconds);
            _liveWorkers.Set(await _queries.LiveWorkerNodesAsync(cutoff, ct));

            _liveStretch.Set(_live.CurrentStretch);
            foreach (var (view, querying, queries, drawing) in _live.ByView)
            {
                _liveQuerying.WithLabels(view).IncTo(querying.TotalSeconds);
                _liveQueries.WithLabels(view).IncTo(queries);
                _liveDrawing.WithLabels(view).IncTo(drawing.TotalSeconds);
            }
        }
        finally { _scrape.Release(); }
    }

    /// <summary>Sets every labelled value and removes the series that no longer exist (a state nothing is in any more).</summary>
    private void SetAll(Gauge gauge, IEnumerable<(string[] Labels, double Value)> values)
    {
        var now = new HashSet<string[]>(LabelComparer.Instance);
        foreach (var (labels, value) in values)
        {
            gauge.WithLabels(labels).Set(value);
            now.Add(labels);
        }
        if (_seenLabels.TryGetValue(gauge, out var before))
            foreach (var gone in before.Where(l => !now.Contains(l)))
                gauge.RemoveLabelled(gone);
        _seenLabels[gauge] = now;
    }

    private sealed class LabelComparer : IEqualityComparer<string[]>
    {
        public static readonly LabelComparer Instance = new();
        public bool Equals(string[]? a, string[]? b) => a is not null && b is not null && a.SequenceEqual(b);
        public int GetHashCode(string[] labels) => labels.Aggregate(17, (h, s) => HashCode.Combine(h, s));
    }
}
