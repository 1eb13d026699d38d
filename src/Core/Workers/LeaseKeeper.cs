using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Core.Workers;

/// <summary>
/// Heartbeats this node's lease, and recovers work from nodes whose lease expired: Running → Lost (then retried if
/// retries remain), Cancelling → Cancelled. Also watches for cancel requests made on other nodes for work running here.
/// </summary>
public sealed class LeaseKeeper(
    IExecutionStore store,
    ExecutionTransitions transitions,
    ExecutionDispatcher dispatcher,
    RunningWork running,
    NodeIdentity node,
    IOptions<TaskdeckOptions> options,
    TimeProvider time,
    ILogger<LeaseKeeper> logger) : BackgroundService
{
    private static readonly TimeSpan CancelWatchInterval = TimeSpan.FromMilliseconds(250);
    private DateTimeOffset _startedAt;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _startedAt = time.GetUtcNow();
        await HeartbeatAsync(null, cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try { await HeartbeatAsync(time.GetUtcNow(), cancellationToken); } catch (Exception e) { logger.LogDebug(e, "Final heartbeat failed"); }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var leases = options.Value.Leases;
        var nextHeartbeat = time.GetUtcNow();
        using var timer = new PeriodicTimer(CancelWatchInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await WatchCancelRequestsAsync(stoppingToken);
                    if (time.GetUtcNow() < nextHeartbeat) continue;
                    nextHeartbeat = time.GetUtcNow().AddSeconds(leases.HeartbeatSeconds);
                    await HeartbeatAsync(null, stoppingToken);
                    await RecoverFromDeadNodesAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Lease upkeep failed; will try again");
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    private Task HeartbeatAsync(DateTimeOffset? stoppedAt, CancellationToken ct)
    {
        var n = options.Value.Node;
        return store.HeartbeatAsync(new WorkerNode
        {
            Id = node.Id, HostName = node.HostName, ProcessId = System.Environment.ProcessId, Roles = n.Roles,
            StartedAt = _startedAt, HeartbeatAt = time.GetUtcNow(), Cores = n.Cores, MemoryMB = n.MemoryMB, Gpus = n.Gpus,
            WorkerCount = n.RunsWorkers ? n.WorkerCount : 0, RunningCount = running.Count, StoppedAt = stoppedAt,
        }, ct);
    }

    private async Task WatchCancelRequestsAsync(CancellationToken ct)
    {
        if (running.Count == 0) return;
        foreach (var id in await store.FindCancellingOnNodeAsync(node.Id, ct))
            running.SignalCancel(id);
    }

    /// <summary>Public so tests can drive recovery without waiting for the timer.</summary>
    public async Task<int> RecoverFromDeadNodesAsync(CancellationToken ct)
    {
        var cutoff = time.GetUtcNow().AddSeconds(-options.Value.Leases.ExpirySeconds);
        var recovered = 0;
        foreach (var (id, state, attempt) in await store.FindOnDeadNodesAsync(cutoff, ct))
        {
            if (running.IsRunningHere(id)) continue;
            if (state == ExecutionState.Cancelling)
            {
                var cancelled = await transitions.ApplyAsync(new TransitionCommand(id, Transition.ConfirmCancel)
                    { ExpectedAttempt = attempt, Reason = "cancelled; its worker's lease expired" }, ct);
                if (cancelled.Applied) recovered++;
                continue;
            }
            var lost = await transitions.ApplyAsync(new TransitionCommand(id, Transition.MarkLost)
                { ExpectedAttempt = attempt, Reason = "its worker's lease expired", ErrorMessage = "worker lost" }, ct);
            if (!lost.Applied) continue;
            recovered++;
            var execution = await store.FindAsync(id, ct);
            if (execution is { RetriesRemain: true })
            {
                var retried = await transitions.ApplyAsync(new TransitionCommand(id, Transition.Retry) { Reason = $"automatic retry after lost attempt {attempt}" }, ct);
                if (retried.Applied) await dispatcher.EnqueueAsync(id, execution.Priority, ct);
            }
        }
        if (recovered > 0) logger.LogWarning("Recovered {Count} executions from nodes whose lease expired", recovered);
        return recovered;
    }
}
