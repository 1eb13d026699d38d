using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Core.Workers;

/// <summary>
/// Heartbeats this node's lease, and recovers work from nodes whose lease expired: Running → back to wait for a retry
/// (Lost when none remains), Cancelling → Cancelled. Also watches for cancel requests made on other nodes for work running here.
/// </summary>
public sealed class LeaseKeeper(
    INodeLeaseStore leases,
    IExecutionReader executions,
    ExecutionTransitions transitions,
    RetryElection retries,
    RunningWork running,
    NodeIdentity node,
    IOptions<TaskdeckOptions> options,
    TimeProvider time,
    ILogger<LeaseKeeper> logger) : BackgroundService
{
    private static readonly TimeSpan CancelWatchInterval = TimeSpan.FromMilliseconds(250);
    private DateTimeOffset _startedAt;
    private DateTimeOffset _lastHeartbeat;

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
        var settings = options.Value.Leases;
        var nextHeartbeat = time.GetUtcNow();
        using var timer = new PeriodicTimer(CancelWatchInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    // The fallback for cancels entered on other nodes, should the change feed's news come late or not at all.
                    await running.SignalRequestedCancelsAsync(leases, node.Id, stoppingToken);
                    if (time.GetUtcNow() < nextHeartbeat) continue;
                    nextHeartbeat = time.GetUtcNow().AddSeconds(settings.HeartbeatSeconds);
                    await HeartbeatAsync(null, stoppingToken);
                    await StopWorkNoLongerHeldAsync(stoppingToken);
                    await RecoverFromDeadNodesAsync(stoppingToken);
                    await RecoverOrphansAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Lease upkeep failed; will try again");
                    StopWorkIfLeaseExpired();
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task HeartbeatAsync(DateTimeOffset? stoppedAt, CancellationToken ct)
    {
        var n = options.Value.Node;
        var at = time.GetUtcNow();
        await leases.HeartbeatAsync(new WorkerNode
        {
            Id = node.Id, HostName = node.HostName, ProcessId = System.Environment.ProcessId, Roles = n.Roles,
            StartedAt = _startedAt, HeartbeatAt = time.GetUtcNow(), Cores = n.Cores, MemoryMB = n.MemoryMB, Gpus = n.Gpus,
            WorkerCount = n.RunsWorkers ? n.WorkerCount : 0, RunningCount = running.Count, StoppedAt = stoppedAt,
        }, ct);
        _lastHeartbeat = at;
    }

    /// <summary>
    /// Heartbeats have failed for longer than the lease lasts: other nodes may already have taken this node's work as
    /// lost, so stop it here (commands: their whole process group) rather than run it twice.
    /// </summary>
    private void StopWorkIfLeaseExpired()
    {
        if (time.GetUtcNow() - _lastHeartbeat < TimeSpan.FromSeconds(options.Value.Leases.ExpirySeconds)) return;
        var stopped = running.Attempts.Count(a => running.SignalLeaseLost(a.ExecutionId, a.Attempt));
        if (stopped > 0) logger.LogWarning("This node's lease expired (no heartbeat since {At}): stopped {Count} running attempts", _lastHeartbeat, stopped);
    }

    /// <summary>An attempt running here whose record says otherwise (recovered by another node as lost, re-claimed) is stopped.</summary>
    public async Task<int> StopWorkNoLongerHeldAsync(CancellationToken ct)
    {
        var stopped = 0;
        foreach (var (id, attempt) in running.Attempts)
        {
            var record = await executions.FindAsync(id, ct);
            // Succeeded/Failed/TimedOut on this attempt: it closed itself (or its worker reported) and is finishing here.
            // Lost, Cancelled by a lease recovery, or back in the queue: another node acted on it as if this one were dead.
            var held = record is not null && record.AttemptCount == attempt && record.NodeId == node.Id
                       && record.State is not (ExecutionState.Lost or ExecutionState.Cancelled or ExecutionState.Queued
                           or ExecutionState.Scheduled or ExecutionState.Pending or ExecutionState.Expired);
            if (!held && running.SignalLeaseLost(id, attempt))
            {
                stopped++;
                logger.LogWarning("Execution {Id} attempt {Attempt} runs here but its record is {State} on {Node} (attempt {Current}): stopped it",
                    id, attempt, record?.State, record?.NodeId, record?.AttemptCount);
            }
        }
        return stopped;
    }

    /// <summary>
    /// Records that name this node as their worker while no attempt of theirs runs here: the runner lost them when the
    /// database went away as it claimed or closed the attempt (a claim committed whose answer never came back, a close
    /// that could not be written). This node's lease is live, so no other node would ever recover them: the attempt is
    /// closed as interrupted and the record goes back to its queue (a Cancelling one ends Cancelled). Only records
    /// claimed longer than a lease ago are looked at: a claim just applied is registered here a moment after it commits.
    /// </summary>
    public async Task<int> RecoverOrphansAsync(CancellationToken ct)
    {
        var claimedBefore = time.GetUtcNow().AddSeconds(-options.Value.Leases.ExpirySeconds);
        var recovered = 0;
        foreach (var (id, state, attempt) in await leases.FindActiveOnNodeAsync(node.Id, claimedBefore, ct))
        {
            if (running.IsRunningHere(id)) continue;
            var command = state == ExecutionState.Cancelling
                ? new TransitionCommand(id, Transition.ConfirmCancel) { Reason = "cancelled; this node had lost track of its attempt" }
                : new TransitionCommand(id, Transition.Interrupt) { Reason = "this node lost track of the attempt (a write to the database failed)" };
            if ((await transitions.ApplyAsync(command with { ExpectedAttempt = attempt }, ct)).Applied) recovered++;
        }
        if (recovered > 0) logger.LogWarning("Recovered {Count} executions this node held without running them", recovered);
        return recovered;
    }

    /// <summary>
    /// Work that nodes whose lease expired were running: a Cancelling record ends Cancelled; a Running one closes its
    /// attempt as lost and, in the same transition, waits out its back-off when retries remain (<see cref="RetryElection"/>),
    /// so a crash of this node mid-recovery cannot leave it Lost with retries to go. Public so tests can drive it.
    /// </summary>
    public async Task<int> RecoverFromDeadNodesAsync(CancellationToken ct)
    {
        var cutoff = time.GetUtcNow().AddSeconds(-options.Value.Leases.ExpirySeconds);
        var recovered = 0;
        foreach (var (id, state, attempt) in await leases.FindOnDeadNodesAsync(cutoff, ct))
        {
            if (running.IsRunningHere(id)) continue;
            TransitionCommand command;
            if (state == ExecutionState.Cancelling)
                command = new TransitionCommand(id, Transition.ConfirmCancel) { Reason = "cancelled; its worker's lease expired" };
            // Only the retry election needs the record (its retries and back-off): a Cancelling one ends without a read.
            else if (await executions.FindAsync(id, ct) is { } execution) command = retries.AfterLostLease(execution, attempt);
            else continue;
            if ((await transitions.ApplyAsync(command with { ExpectedAttempt = attempt }, ct)).Applied) recovered++;
        }
        if (recovered > 0) logger.LogWarning("Recovered {Count} executions from nodes whose lease expired", recovered);
        return recovered;
    }
}
