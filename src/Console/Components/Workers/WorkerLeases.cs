using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Data.Workers;

namespace Taskdeck.Console.Components.Workers;

/// <summary>
/// Heartbeats are not execution events, so one app-wide watcher reads the leases once per heartbeat interval —
/// only while some page watches — and hands every open Workers page the same snapshot. Pages never poll.
/// </summary>
public sealed class WorkerLeases(WorkerQueries queries, IOptions<TaskdeckOptions> options, TimeProvider time, ILogger<WorkerLeases> logger) : BackgroundService
{
    private readonly Lock _gate = new();
    private Action<IReadOnlyList<WorkerView>>[] _watchers = [];

    public IReadOnlyList<WorkerView>? Latest { get; private set; }

    public IDisposable Watch(Action<IReadOnlyList<WorkerView>> onSnapshot)
    {
        lock (_gate) _watchers = [.. _watchers, onSnapshot];
        return new Watcher(this, onSnapshot);
    }

    public Task<IReadOnlyList<WorkerView>> SnapshotAsync(CancellationToken ct = default) => queries.ListAsync(ct: ct);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, options.Value.Leases.HeartbeatSeconds)), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var watchers = Volatile.Read(ref _watchers);
                if (watchers.Length == 0) continue;
                try
                {
                    var snapshot = await queries.ListAsync(ct: stoppingToken);
                    Latest = snapshot;
                    foreach (var w in watchers) w(snapshot);
                }
                catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Could not read worker leases"); }
            }
        }
        catch (OperationCanceledException) { }
    }

    private sealed class Watcher(WorkerLeases owner, Action<IReadOnlyList<WorkerView>> onSnapshot) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._gate) owner._watchers = owner._watchers.Where(w => w != onSnapshot).ToArray();
        }
    }
}
