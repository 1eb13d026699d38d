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
/// Once its own have run, the worker takes on the execution its last one's end makes ready on its queue (see
/// <see cref="ExecutionDispatcher.Continuation"/>), and so on: a DAG chain runs on the worker that ran its root.
/// </summary>
[AutomaticRetry(Attempts = 0, LogEvents = false, OnAttemptsExceeded = AttemptsExceededAction.Delete)]
public sealed class ExecutionBatchJob(ExecutionRunner runner, ExecutionDispatcher dispatcher, IExecutionReader store, WaitingJobs waiting, BusyWorkers busy,
    IOptions<TaskdeckOptions> options, TimeProvider time, ILogger<ExecutionBatchJob> logger)
{
    /// <param name="queue">The queue the batch came from: what it hands back goes there.</param>
    /// <param name="executionIds">The records to run, in order.</param>
    /// <param name="shutdown">Hangfire passes the server's shutdown token here.</param>
    [BatchDisplayName]
    public async Task RunAsync(string queue, long[] executionIds, CancellationToken shutdown)
    {
        using var worker = busy.Enter();
        waiting.NoLongerWaits(executionIds);
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
        await RunInOrderAsync(queue, executionIds, records, shutdown);
    }

    /// <summary>A lone execution's job (<see cref="ExecutionJob"/>): its queue follows from the record's priority.</summary>
    public async Task RunOneAsync(long executionId, CancellationToken shutdown)
    {
        using var worker = busy.Enter();
        waiting.NoLongerWaits([executionId]);
        if (await store.FindAsync(executionId, CancellationToken.None) is not { } record) return;
        await RunInOrderAsync(ExecutionDispatcher.QueueFor(record.Priority), [executionId], new() { [executionId] = record }, shutdown);
    }

    private async Task RunInOrderAsync(string queue, long[] executionIds, Dictionary<long, Execution> records, CancellationToken shutdown)
    {
        var handBackAfter = TimeSpan.FromMilliseconds(options.Value.Dispatch.HandBackMilliseconds);
        // The closing write of the execution before is still committing while the next one is claimed: both go in one
        // group commit. At most that one is left unawaited, and all are awaited before the job ends.
        var closing = Closing.None;
        var pending = new Queue<long>(executionIds);
        var jobId = CurrentJobFilter.JobId;
        var continuation = ExecutionDispatcher.Continuation.Begin(queue);
        // The execution handed to this worker still to be started (a DAG child still to be released is released and claimed
        // in one commit): handed back, not dropped, if it cannot start here.
        ExecutionDispatcher.Handover? tookOn = null;
        // How long this job's executions have worked, their claims and closes waiting on a busy database not counted: a
        // noop whose claim queued behind others' commits is not long work, and handing its batch back then only made more
        // jobs for the same database (BENCHMARKS.md, session 35).
        var worked = TimeSpan.Zero;
        var spreadsSums = options.Value.Dispatch.MinBatch > 1;
        try
        {
            while (true)
            {
                if (pending.Count == 0)
                {
                    // All of its own have run: while the last one's end commits, this worker may be handed the execution
                    // that end makes ready on its queue — a DAG child it releases (ExecutionDispatcher.Continuation). The
                    // offer opened as that end was issued (below); opened here when the last one ran nothing.
                    continuation.Open();
                    await ObserveAsync(closing);
                    closing = Closing.None;
                    if (continuation.Close() is not { } next) return;
                    if (shutdown.IsCancellationRequested)
                    {
                        await HandBackAsync(queue, next);
                        return;
                    }
                    CurrentJobFilter.NoteTookOn(next.ExecutionId);
                    pending.Enqueue(next.ExecutionId);
                    tookOn = next;
                }
                // Jobs made fuller than one per idle worker (Dispatch:MinBatch) may carry many medium executions, which
                // add up as one long one does: their sum has run long while a worker here has nothing to do, so the rest
                // is spread (this worker keeps the next one). A chain handed on stays here. Not with the default split:
                // on a saturated node, wall-clock "work" includes the thread pool's queueing, and fifty noops' sum
                // passed the mark and spread full jobs into small ones again (BENCHMARKS.md, session 35).
                if (spreadsSums && tookOn is null && pending.Count > 1 && worked >= handBackAfter && dispatcher.HasIdleWorker(queue))
                {
                    var next = pending.Dequeue();
                    pending = new Queue<long>([next, .. await TryHandBackAsync(queue, [.. pending])]);
                }
                var id = pending.Dequeue();
                var handover = tookOn;
                tookOn = null;
                if (handover is not null && shutdown.IsCancellationRequested)
                {
                    await HandBackAsync(queue, handover);
                    return;
                }
                // Stopping: the rest stays Queued; Hangfire puts the job back (and the reconciler would dispatch them anyway).
                shutdown.ThrowIfCancellationRequested();
                // Every claim names the job it runs in (CurrentJobFilter says why).
                // The last one's end may be committed and observed before this flow runs again: the offer opens before
                // that end is issued, or the child it releases would get a job of its own.
                var last = pending.Count == 0;
                var work = new WorkWatch(time);
                var started = runner.StartAsync(id, shutdown, records.GetValueOrDefault(id), jobId, handover?.ReleaseFirst, work.Start,
                    last ? () => { work.End(); continuation.Open(); } : work.End);
                try
                {
                    var recorded = last || started.IsCompleted ? await started : await WithinHandBackAsync(started, work, handBackAfter);
                    if (spreadsSums) worked += work.Worked;
                    await ObserveAsync(closing);
                    closing = new Closing(id, recorded);
                }
                catch (TimeoutException)
                {
                    // This one takes a while: the rest must not wait behind it while other workers may be idle.
                    pending = new Queue<long>(await TryHandBackAsync(queue, [.. pending]));
                    await ObserveAsync(closing);
                    closing = Closing.None;
                    await ObserveAsync(new Closing(id, started.Unwrap()));
                    if (pending.Count == 0) return;
                }
                catch (OperationCanceledException) when (handover is not null && shutdown.IsCancellationRequested)
                {
                    await HandBackAsync(queue, handover);
                    throw;
                }
                catch (Exception e) when (e is not OperationCanceledException || !shutdown.IsCancellationRequested)
                {
                    logger.LogWarning(e, "Running execution {Id} of a batch failed; going on with the rest", id);
                    // One handed over is released or dispatched as usual (nothing happens if it no longer waits), not left for
                    // the reconcilers' next pass.
                    if (handover is not null) await HandBackAsync(queue, handover);
                }
            }
        }
        finally
        {
            // Left by a failure or a stop while the offer was open: released or dispatched as usual, never dropped (and a
            // close still committing releases its child as usual once the offer is withdrawn).
            if (continuation.Close() is { } left) await HandBackAsync(queue, left);
            await ObserveAsync(closing);
        }
    }

    /// <summary>
    /// Hands these back as jobs for idle workers; returns those that got none (the transport failing part way), which this
    /// job runs itself — spreading is an optimisation, not a reason to fail the batch.
    /// </summary>
    private async Task<IReadOnlyList<long>> TryHandBackAsync(string queue, IReadOnlyList<long> ids)
    {
        try
        {
            await dispatcher.HandBackAsync(queue, ids);
            return [];
        }
        catch (DispatchIncompleteException e)
        {
            logger.LogWarning(e.InnerException, "Handing {Count} executions of a batch back failed; this worker runs them", e.WithoutJob.Count);
            var kept = e.WithoutJob.ToHashSet();
            return [.. ids.Where(kept.Contains)];
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Handing {Count} executions of a batch back failed; this worker runs them", ids.Count);
            return ids;
        }
    }

    /// <summary>
    /// An execution handed to this worker that it will not run (the host stops, or the job failed): a job of its own, or its release as usual when it was handed
    /// over unreleased (the reconcilers would see to either otherwise).
    /// </summary>
    private async Task HandBackAsync(string queue, ExecutionDispatcher.Handover handover)
    {
        try
        {
            if (handover.ReleaseFirst is { } release) await runner.ReleaseAsync(release);
            else await dispatcher.HandBackAsync(queue, [handover.ExecutionId]);
        }
        catch (Exception e) { logger.LogWarning(e, "Handing execution {Id} back failed; the reconciler will dispatch it", handover.ExecutionId); }
    }

    /// <summary>
    /// The execution's start, unless its work runs past <paramref name="handBackAfter"/> (a <see cref="TimeoutException"/>):
    /// timed from its claim's commit, not from before the claim.
    /// </summary>
    private async Task<Task> WithinHandBackAsync(Task<Task> started, WorkWatch work, TimeSpan handBackAfter)
    {
        var wait = handBackAfter;
        while (true)
        {
            try { return await started.WaitAsync(wait, time); }
            // Only the wait's own timeout: a start that itself failed with a TimeoutException is rethrown, not waited on again.
            catch (TimeoutException) when (!started.IsCompleted && handBackAfter - work.Elapsed is var left && left > TimeSpan.Zero) { wait = left; }
        }
    }

    /// <summary>When one execution's work started and ended, as the runner says (<see cref="ExecutionRunner.StartAsync"/>).</summary>
    private sealed class WorkWatch(TimeProvider time)
    {
        private long _startedAt;
        private long _endedAt;
        private volatile bool _started;
        private volatile bool _ended;

        public void Start()
        {
            _startedAt = time.GetTimestamp();
            _started = true;
        }

        public void End()
        {
            _endedAt = time.GetTimestamp();
            _ended = true;
        }

        /// <summary>How long the work has run so far; zero before it started.</summary>
        public TimeSpan Elapsed => _started ? time.GetElapsedTime(_startedAt) : TimeSpan.Zero;

        /// <summary>How long the work took; zero when nothing was claimed.</summary>
        public TimeSpan Worked => _started && _ended ? time.GetElapsedTime(_startedAt, _endedAt) : TimeSpan.Zero;
    }

    /// <summary>An execution whose work has ended, and its closing write, which may still be committing.</summary>
    private sealed record Closing(long Id, Task Recorded)
    {
        public static readonly Closing None = new(0, Task.CompletedTask);
    }

    /// <summary>Waits for an execution's closing write; a failure is logged, not thrown: the batch goes on.</summary>
    private async Task ObserveAsync(Closing closing)
    {
        try { await closing.Recorded; }
        catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Running execution {Id} of a batch failed", closing.Id); }
    }

    /// <summary>"Run executions 101, 102, 103 … 125 (25 in all)" in the dashboard instead of an array's type name.</summary>
    private sealed class BatchDisplayNameAttribute() : JobDisplayNameAttribute("Run executions")
    {
        public override string Format(DashboardContext context, Job job) => Describe(job.Args.Count > 1 ? job.Args[1] as long[] : null);
    }

    public static string Describe(long[]? ids) => ids is null or { Length: 0 } ? "Run executions" : $"Run executions {ExecutionIdList.Of(ids).Describe()}";
}
