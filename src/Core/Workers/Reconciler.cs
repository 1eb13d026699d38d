using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Workers;

/// <summary>
/// Makes the in-memory Hangfire storage of the embedded mode durable: at start and periodically, waiting records
/// with no live job (lost in a crash, never enqueued because the process died in between, or left in a batch that a
/// node which has since died was running) are dispatched again, and records past their queue deadline expire. A
/// duplicate job cannot run a record twice (claims are CAS), but costs the transport as much as a real one.
/// </summary>
public sealed class Reconciler(
    IDispatchStore store,
    INodeLeaseStore leases,
    ExecutionTransitions transitions,
    ExecutionDispatcher dispatcher,
    IExecutionTransport transport,
    IOptions<TaskdeckOptions> options,
    TimeProvider time,
    ILogger<Reconciler> logger) : BackgroundService
{
    /// <summary>A record with a job that changed state this recently may still be between that change and its new job.</summary>
    private static readonly TimeSpan DispatchGrace = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A record that has no job yet belongs to the node that made it ready until that node's lease could have expired: a big
    /// submission's jobs are made after the submit answers (<see cref="Dispatch.DispatchBacklog"/>), and under load its
    /// last records waited there longer than <see cref="DispatchGrace"/> — every node's reconciler then gave each a job of
    /// its own besides, hundreds of one-execution jobs a round that halved the executions per job on two nodes
    /// (BENCHMARKS.md, session 35). Should that node die, its lease runs out and any node dispatches them.
    /// </summary>
    private TimeSpan JoblessGrace => TimeSpan.FromSeconds(Math.Max(DispatchGrace.TotalSeconds, options.Value.Leases.ExpirySeconds));
    private const int PageSize = 1000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var firstPass = true;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, options.Value.Leases.ReconcileSeconds)), time);
        do
        {
            try
            {
                var redispatched = await ReconcileAsync(firstPass, stoppingToken);
                if (redispatched > 0) logger.LogInformation("Dispatched {Count} waiting executions that had no live Hangfire job", redispatched);
                firstPass = false;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Reconciling waiting executions failed; will try again");
            }
        } while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct); }
        catch (OperationCanceledException) { return false; }
    }

    /// <param name="atStart">At start every waiting record is checked regardless of age.</param>
    public async Task<int> ReconcileAsync(bool atStart, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var id in await store.FindExpiredAsync(now, PageSize, ct))
            await transitions.ApplyAsync(new TransitionCommand(id, Transition.Expire) { Reason = "its queue deadline passed before it started" }, ct);

        var redispatched = 0;
        long after = 0;
        // A job being run belongs to a live node only while that node's lease is fresh: a batch's ids not yet started on
        // a node that died wait behind a job that will not come back before Hangfire's invisibility timeout.
        var cutoff = now.AddSeconds(-options.Value.Leases.ExpirySeconds);
        var liveNodes = (await leases.ListNodesAsync(ct)).Where(n => n.HeartbeatAt >= cutoff).Select(n => n.Id).ToList();
        using var jobs = transport.ReadJobStates();
        // A batch job's records share its state: read once a pass, not once per record (a 10,000-task fan-in waiting in
        // jobs of 25 read each job's state 25 times, every pass, on PostgreSQL a query and a pooled connection's reset each).
        var jobIsLive = new Dictionary<string, bool>(StringComparer.Ordinal);
        while (true)
        {
            var page = await store.FindDispatchableAsync(after, PageSize, ct);
            if (page.Count == 0) break;
            var withoutLiveJob = page.Where(row => (atStart || now - row.UpdatedAt >= (row.HangfireJobId is null ? JoblessGrace : DispatchGrace))
                                                   && !HasLiveJob(jobs, row.HangfireJobId, liveNodes, jobIsLive)).ToList();
            var stranded = withoutLiveJob.Count > 0 ? await StillWaitingAsync(withoutLiveJob, ct) : [];
            if (stranded.Count > 0)
            {
                // Together, as a submission's records travel: a node's death can leave thousands behind.
                await dispatcher.DispatchManyAsync([.. stranded.Select(row => (row.Id, row.Priority, row.State == ExecutionState.Scheduled ? row.RunAt : null))], now, ct);
                redispatched += stranded.Count;
            }
            after = page[^1].Id;
        }
        return redispatched;
    }

    /// <summary>
    /// Of the records a page showed waiting without a live job, those that still wait in the same job now that the job's
    /// state has been read. The page is read before its jobs' states: a job that ran its records in between reads as gone
    /// while the page still shows them waiting, and on two busy nodes every record of a job that had queued past the grace
    /// got a job of its own besides — a thousand one-execution jobs in a round, each costing the server as much as a full one
    /// (BENCHMARKS.md, session 40). Read again after its job was seen gone, a record still waiting in it was not run by it.
    /// </summary>
    private async Task<List<DispatchRow>> StillWaitingAsync(List<DispatchRow> withoutLiveJob, CancellationToken ct)
    {
        var current = (await store.FindDispatchableAsync([.. withoutLiveJob.Select(row => row.Id)], ct)).ToDictionary(row => row.Id);
        return withoutLiveJob.Where(row => current.TryGetValue(row.Id, out var reread) && reread.HangfireJobId == row.HangfireJobId && reread.UpdatedAt == row.UpdatedAt).ToList();
    }

    private static bool HasLiveJob(IJobStates jobs, string? jobId, IReadOnlyList<string> liveNodes, Dictionary<string, bool> known)
    {
        if (jobId is null) return false;
        if (known.TryGetValue(jobId, out var live)) return live;
        var (where, server) = jobs.Find(jobId);
        live = where switch
        {
            JobWhereabouts.Waiting => true,
            // A server's id starts with its node's id (Hangfire's ServerName is the node id).
            JobWhereabouts.Running => server is null || liveNodes.Any(node => server.StartsWith(node + ":", StringComparison.OrdinalIgnoreCase)),
            _ => false,
        };
        known[jobId] = live;
        return live;
    }
}
