using Hangfire;
using Hangfire.Common;
using Hangfire.Dashboard;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;

namespace Taskdeck.Core.Dispatch.HangfireQueue;

/// <summary>
/// One Hangfire job for several executions that became ready together: they run one after the other on the worker that
/// fetched the job, so Hangfire's cost is paid once for all of them. Each is claimed by compare-and-set as a single job's
/// would be, so one cancelled (or run elsewhere) meanwhile is skipped. The ones not started stay Queued in the database:
/// if this node dies mid-batch, the reconciler finds them waiting behind a job of a dead node and dispatches them again.
/// </summary>
[AutomaticRetry(Attempts = 0, LogEvents = false, OnAttemptsExceeded = AttemptsExceededAction.Delete)]
public sealed class ExecutionBatchJob(ExecutionRunner runner, ExecutionDispatcher dispatcher, IExecutionReader store, IOptions<TaskdeckOptions> options,
    TimeProvider time, ILogger<ExecutionBatchJob> logger)
{
    /// <param name="queue">The queue the batch came from: what it hands back goes there.</param>
    /// <param name="executionIds">The records to run, in order.</param>
    /// <param name="shutdown">Hangfire passes the server's shutdown token here.</param>
    [BatchDisplayName]
    public async Task RunAsync(string queue, long[] executionIds, CancellationToken shutdown)
    {
        var handBackAfter = TimeSpan.FromMilliseconds(options.Value.Dispatch.HandBackMilliseconds);
        // The batch's records in one read instead of one each (a copy gone stale by its turn is read again by the runner).
        var records = new Dictionary<long, Execution>();
        try
        {
            if (executionIds.Length > 1) foreach (var e in await store.FindManyAsync(executionIds, CancellationToken.None)) records[e.Id] = e;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Reading the {Count} records of a batch failed; each is read on its turn", executionIds.Length);
        }
        // The closing write of the execution before is still committing while the next one is claimed: both go in one
        // group commit. At most that one is left unawaited, and all are awaited before the job ends.
        var closing = (Recorded: Task.CompletedTask, Id: 0L);
        try
        {
            for (var i = 0; i < executionIds.Length; i++)
            {
                // Stopping: the rest stays Queued; Hangfire puts the job back (and the reconciler would dispatch them anyway).
                shutdown.ThrowIfCancellationRequested();
                var started = runner.StartAsync(executionIds[i], shutdown, records.GetValueOrDefault(executionIds[i]));
                try
                {
                    var recorded = i == executionIds.Length - 1 || started.IsCompleted ? await started : await started.WaitAsync(handBackAfter, time);
                    await ObserveAsync(closing.Recorded, closing.Id);
                    closing = (recorded, executionIds[i]);
                }
                catch (TimeoutException)
                {
                    // This one takes a while: the rest must not wait behind it while other workers may be idle.
                    await dispatcher.HandBackAsync(queue, executionIds[(i + 1)..]);
                    await ObserveAsync(closing.Recorded, closing.Id);
                    closing = (Task.CompletedTask, 0);
                    await ObserveAsync(RunToEndAsync(started), executionIds[i]);
                    return;
                }
                catch (Exception e) when (e is not OperationCanceledException || !shutdown.IsCancellationRequested)
                {
                    logger.LogWarning(e, "Running execution {Id} of a batch failed; going on with the rest", executionIds[i]);
                }
            }
        }
        finally
        {
            await ObserveAsync(closing.Recorded, closing.Id);
        }
    }

    private static async Task RunToEndAsync(Task<Task> started) => await await started;

    /// <summary>Waits for an execution's closing write; a failure is logged, not thrown: the batch goes on.</summary>
    private async Task ObserveAsync(Task recorded, long id)
    {
        try { await recorded; }
        catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Running execution {Id} of a batch failed", id); }
    }

    /// <summary>"Run executions 101, 102, 103 … (25)" in the dashboard instead of an array's type name.</summary>
    private sealed class BatchDisplayNameAttribute() : JobDisplayNameAttribute("Run executions")
    {
        public override string Format(DashboardContext context, Job job) => Describe(job.Args.Count > 1 ? job.Args[1] as long[] : null);
    }

    public static string Describe(long[]? ids) => ids is null or { Length: 0 }
        ? "Run executions"
        : $"Run executions {string.Join(", ", ids.Take(3))}{(ids.Length > 3 ? " …" : "")} ({ids.Length})";
}
