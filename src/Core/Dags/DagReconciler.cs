using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Taskdeck.Core.Dags;

/// <summary>
/// Scheduling reacts to transitions at once; this is the safety net behind it. At start and periodically, every
/// active run's Pending tasks whose parents have all succeeded are released (a crash between a parent's success and
/// its child's release would otherwise leave the child waiting forever) and the run's state is recomputed.
/// </summary>
public sealed class DagReconciler(IDagStore store, DagScheduler scheduler, IOptions<TaskdeckOptions> options, TimeProvider time,
    ILogger<DagReconciler> logger) : BackgroundService
{
    /// <summary>A parentless Pending task younger than this may still be inside its submit, about to be released.</summary>
    private static readonly TimeSpan SubmitGrace = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, options.Value.Leases.ReconcileSeconds)), time);
        do
        {
            try
            {
                var released = await ReconcileAsync(stoppingToken);
                if (released > 0) logger.LogInformation("Released {Count} DAG tasks whose parents had all succeeded", released);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Reconciling DAG runs failed; will try again");
            }
        } while (await WaitAsync(timer, stoppingToken));
    }

    public async Task<int> ReconcileAsync(CancellationToken ct)
    {
        var released = 0;
        foreach (var runId in await store.ActiveRunIdsAsync(ct))
        {
            foreach (var task in await store.ReadyTasksAsync(runId, time.GetUtcNow() - SubmitGrace, ct))
                if (await scheduler.ReleaseAsync(task, ct)) released++;
            await scheduler.RecomputeAsync(runId, ct);
        }
        return released;
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct); }
        catch (OperationCanceledException) { return false; }
    }
}
