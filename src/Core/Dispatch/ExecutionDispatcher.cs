using Microsoft.Extensions.Options;
using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Dispatch;

/// <summary>
/// Sends waiting records to the transport. Executions that become ready together (a submission, a DAG fan-out, a retry
/// storm) travel in as few jobs as keeps the workers busy: ready ids are gathered while the previous
/// hand-over is in flight (as a group commit gathers writes), then split per queue into one job per idle worker of this
/// node (of the cluster, on a node without workers) — a worker counts as idle unless a job made here already waits for
/// it (<see cref="WaitingJobs"/>) — at most
/// <see cref="DispatchOptions.MaxBatch"/> ids each. A lone ready execution goes at once, in a job of its own. Priority
/// picks the queue; servers listen to the queues in <see cref="Queues"/> order, so higher priorities are fetched first.
/// </summary>
public sealed class ExecutionDispatcher(IExecutionTransport transport, IDispatchStore store, WaitingJobs waiting, BusyWorkers busy, IOptions<TaskdeckOptions> options)
{
    public const string Critical = "critical";
    public const string High = "high";
    public const string Default = "default";
    public const string Low = "low";

    /// <summary>Fetch order for the workers.</summary>
    public static readonly string[] Queues = [Critical, High, Default, Low];

    public static string QueueFor(int priority) => priority switch
    {
        >= 10 => Critical,
        >= 2 => High,
        >= 0 => Default,
        _ => Low,
    };

    private readonly Lock _gate = new();
    private List<Ready> _ready = [];
    private bool _handingOver;

    /// <param name="Spread">Handed back by a job whose work runs long: split over every idle worker, however few each gets.</param>
    /// <param name="MoreBehind">A part of a big submission with more of it still to come: travels in full jobs.</param>
    private sealed record Ready(string Queue, IReadOnlyList<long> Ids, TaskCompletionSource Done, bool Spread = false, bool MoreBehind = false);

    /// <summary>Sends one record to its queue now; done once its job exists and its job id is stored.</summary>
    public Task EnqueueAsync(long executionId, int priority, CancellationToken ct = default) =>
        EnqueueManyAsync(QueueFor(priority), [executionId]);

    public async Task ScheduleAsync(long executionId, int priority, DateTimeOffset runAt, CancellationToken ct = default)
    {
        var jobId = transport.Schedule(executionId, QueueFor(priority), runAt);
        await store.SetHangfireJobAsync(executionId, jobId, ct);
    }

    /// <summary>Sends a waiting record to the transport: now, or at its start time.</summary>
    public Task DispatchAsync(long executionId, int priority, DateTimeOffset? runAt, DateTimeOffset now, CancellationToken ct = default) =>
        runAt is { } at && at > now ? ScheduleAsync(executionId, priority, at, ct) : EnqueueAsync(executionId, priority, ct);

    /// <summary>
    /// Sends many waiting records: those due now in batches, the others each at its time. When the transport fails part
    /// way, the jobs already made stay (their ids stored) and a <see cref="DispatchIncompleteException"/> names the records
    /// still without one, so whoever tries again does not give the others a second job.
    /// </summary>
    /// <param name="moreBehind">
    /// A part of a big submission whose next part follows as soon as this one has its jobs (<see cref="DispatchBacklog"/>):
    /// its due records travel in full jobs even while workers idle. Spread one job per idle worker, each part of 500 went
    /// out in jobs of 25 whenever the workers kept up with the dispatch, so every execution paid Hangfire twice as much and
    /// the dispatch stayed behind: whole two-node runs at 24 executions per job and 1,800 /s (BENCHMARKS.md, session 36).
    /// </param>
    public async Task DispatchManyAsync(IReadOnlyList<(long Id, int Priority, DateTimeOffset? RunAt)> items, DateTimeOffset now, CancellationToken ct = default,
        bool moreBehind = false)
    {
        Exception? failure = null;
        var withoutJob = new List<long>();
        var later = new List<(long, string)>();
        foreach (var (id, priority, runAt) in items)
        {
            if (runAt is not { } at || at <= now) continue;
            if (failure is not null) { withoutJob.Add(id); continue; }
            try { later.Add((id, transport.Schedule(id, QueueFor(priority), at))); }
            catch (Exception e) { failure = e; withoutJob.Add(id); }
        }
        var groups = items.Where(i => i.RunAt is not { } at || at <= now).GroupBy(i => QueueFor(i.Priority))
            .Select(g => (Ids: g.Select(i => i.Id).ToList(), Queue: g.Key)).ToList();
        var due = failure is null ? groups.Select(g => EnqueueManyAsync(g.Queue, g.Ids, moreBehind: moreBehind)).ToList() : [];
        if (failure is not null) withoutJob.AddRange(groups.SelectMany(g => g.Ids));
        // A job made but its id not stored still runs its record: it is not dispatched again here.
        if (later.Count > 0)
        {
            try { await store.SetHangfireJobsAsync(later, ct); }
            catch (Exception e) { failure ??= e; }
        }
        foreach (var task in due)
        {
            try { await task; }
            catch (DispatchIncompleteException e)
            {
                failure ??= e.InnerException;
                withoutJob.AddRange(e.WithoutJob);
            }
        }
        if (failure is not null) throw new DispatchIncompleteException(withoutJob, failure);
    }

    /// <summary>
    /// The rest of a batch whose work takes long: back to their queue as new jobs, one per idle worker (the work has shown
    /// itself worth spreading, so <see cref="DispatchOptions.MinBatch"/> does not hold it together).
    /// </summary>
    public Task HandBackAsync(string queue, IReadOnlyList<long> executionIds) => EnqueueManyAsync(queue, executionIds, spread: true);

    /// <summary>Whether a worker of this node would find nothing to do on <paramref name="queue"/>: none waits for a job made here, and not all run one.</summary>
    public bool HasIdleWorker(string queue) => options.Value.Node.RunsWorkers && IdleWorkers(queue, WorkersToFeed(), countBusy: true) > 0;

    /// <summary>
    /// Of <paramref name="workers"/>, those no job made here waits for on <paramref name="queue"/> — and, when
    /// <paramref name="countBusy"/>, that are not running one either.
    /// </summary>
    private int IdleWorkers(string queue, int workers, bool countBusy) => Math.Max(0, workers - waiting.Ahead(queue) - (countBusy ? busy.Count : 0));

    /// <summary>Best effort: the job would find the record cancelled and do nothing anyway.</summary>
    public void Remove(string? jobId)
    {
        if (jobId is not null) transport.Remove(jobId);
    }

    /// <summary>A dispatch that failed because the transport's store could not be reached (<see cref="IExecutionTransport.IsUnavailable"/>).</summary>
    public bool IsUnavailable(Exception failure) => transport.IsUnavailable(failure);

    /// <summary>Moves a record's job that waits for its start time to its queue now (freed capacity is used at once).</summary>
    public bool Wake(string jobId, int priority) => transport.Wake(jobId, QueueFor(priority));

    /// <summary>
    /// The worker of a batch job, offered for one more execution: the job runs its own executions, then, while the last
    /// one's end commits, the one execution that end makes ready on the job's queue — a DAG child it releases, its own
    /// retry — is handed to it instead of to a job of its own, and it runs that one next, and so on: a chain of DAG tasks
    /// pays Hangfire's job once, not per task. Only what the job's own work makes ready is handed over (the offer flows
    /// with that work's async context), so a submission or another worker's release still gets its job. The record is
    /// claimed within milliseconds in the name of the job that runs it; should the node die first, the reconciler gives a
    /// waiting record without a job one once its grace has passed.
    /// </summary>
    public sealed class Continuation
    {
        private static readonly AsyncLocal<Continuation?> Current = new();
        private readonly string _queue;
        private readonly Lock _gate = new();
        private bool _open;
        private Handover? _taken;

        private Continuation(string queue) => _queue = queue;

        /// <summary>Makes the offer of the calling job's flow, closed until <see cref="Open"/>.</summary>
        public static Continuation Begin(string queue) => Current.Value = new Continuation(queue);

        /// <summary>
        /// The job's own executions have run (or the last one's end is being written): the next one its work makes ready may
        /// be handed over. Stays shut once something was handed over, which <see cref="Close"/> must return.
        /// </summary>
        public void Open()
        {
            lock (_gate) _open = _taken is null;
        }

        /// <summary>Withdraws the offer; returns the execution handed over meanwhile, which the job must run (or hand back).</summary>
        public Handover? Close()
        {
            lock (_gate)
            {
                var taken = _taken;
                (_open, _taken) = (false, null);
                return taken;
            }
        }

        internal static bool TryTake(string queue, long executionId) => TryTake(queue, new Handover(executionId, null));

        /// <summary>
        /// A record not yet released is handed over with its release: the job releases and claims it in one commit
        /// (<see cref="ExecutionTransitions.ApplyTogetherAsync"/>) instead of waiting for the release to commit first. False:
        /// no offer open on the queue of that priority in this flow — release it as usual.
        /// </summary>
        public static bool TryTakeToRelease(int priority, TransitionCommand release) => TryTake(QueueFor(priority), new Handover(release.ExecutionId, release));

        private static bool TryTake(string queue, Handover handover)
        {
            if (Current.Value is not { } offer || offer._queue != queue) return false;
            lock (offer._gate)
            {
                if (!offer._open) return false;
                (offer._open, offer._taken) = (false, handover);
                return true;
            }
        }
    }

    /// <summary>An execution handed to a job's worker; <paramref name="ReleaseFirst"/>: its release, still to be applied (with its claim).</summary>
    public sealed record Handover(long ExecutionId, TransitionCommand? ReleaseFirst);

    private Task EnqueueManyAsync(string queue, IReadOnlyList<long> ids, bool spread = false, bool moreBehind = false)
    {
        if (ids.Count == 0) return Task.CompletedTask;
        if (Continuation.TryTake(queue, ids[0]))
        {
            if (ids.Count == 1) return Task.CompletedTask;
            ids = ids.Skip(1).ToList();
        }
        var ready = new Ready(queue, ids, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), spread, moreBehind);
        bool start;
        lock (_gate)
        {
            _ready.Add(ready);
            start = !_handingOver;
            _handingOver = true;
        }
        if (start) _ = Task.Run(HandOverLoopAsync);
        return ready.Done.Task;
    }

    /// <summary>One hand-over at a time; what became ready meanwhile goes in the next one, together.</summary>
    private async Task HandOverLoopAsync()
    {
        while (true)
        {
            List<Ready> taken;
            lock (_gate)
            {
                if (_ready.Count == 0)
                {
                    _handingOver = false;
                    return;
                }
                taken = _ready;
                _ready = [];
            }
            var created = new List<(long Id, string JobId)>();
            try
            {
                await HandOverAsync(taken, created);
                foreach (var r in taken) r.Done.TrySetResult();
            }
            catch (Exception e)
            {
                var made = created.Select(c => c.Id).ToHashSet();
                foreach (var r in taken)
                {
                    var missing = r.Ids.Where(id => !made.Contains(id)).ToList();
                    if (missing.Count == 0) r.Done.TrySetResult();
                    else r.Done.TrySetException(new DispatchIncompleteException(missing, e));
                }
            }
        }
    }

    /// <summary>Makes the jobs, writing each down in <paramref name="created"/>, then stores their ids (also after a failure part way).</summary>
    private async Task HandOverAsync(List<Ready> taken, List<(long Id, string JobId)> created)
    {
        var workers = WorkersToFeed();
        var max = Math.Max(1, options.Value.Dispatch.MaxBatchOn(options.Value.Storage.Provider));
        try
        {
            foreach (var group in taken.GroupBy(r => r.Queue))
            {
                var ids = group.SelectMany(r => r.Ids).ToList();
                // A burst while every worker has a job waiting travels in full jobs: a small one would only wait longer.
                // Work handed back runs long, so a busy worker will not be free soon: only those idle now share it.
                var spread = group.Any(r => r.Spread);
                var idle = IdleWorkers(group.Key, workers, countBusy: spread);
                var min = spread ? 1 : group.Any(r => r.MoreBehind) ? max : options.Value.Dispatch.MinBatch;
                foreach (var batch in Split(ids, idle, max, min))
                {
                    // Counted before it exists: a worker may start it (and say so) before Enqueue returns.
                    waiting.Made(group.Key, batch);
                    string jobId;
                    try { jobId = transport.Enqueue(group.Key, batch); }
                    catch
                    {
                        waiting.NoLongerWaits(batch);
                        throw;
                    }
                    foreach (var id in batch) created.Add((id, jobId));
                }
            }
        }
        finally
        {
            if (created.Count > 0) await store.SetHangfireJobsAsync(created);
        }
    }

    /// <summary>
    /// The workers a hand-over sizes its jobs for: this node's own when it has workers, else (a console-only node) the
    /// cluster's. Sized for the whole cluster, a node's jobs count other nodes' workers as idle while the only jobs it
    /// knows to be waiting are its own, whose takes by other nodes reach it late through the change feed: on two nodes a
    /// burst went out in jobs of 10–20 executions instead of 46–47, at twice the server CPU per execution and half the
    /// rate (BENCHMARKS.md, session 33). Other nodes' workers still take this node's jobs from the shared queue, and what
    /// a busy worker holds back goes out again after <see cref="DispatchOptions.HandBackMilliseconds"/>.
    /// </summary>
    private int WorkersToFeed()
    {
        var cluster = Math.Max(1, transport.ClusterWorkers);
        var node = options.Value.Node;
        return node.RunsWorkers ? Math.Min(cluster, Math.Max(1, node.WorkerCount)) : cluster;
    }

    /// <summary>
    /// As many jobs as idle workers (each gets some of the work at once), fewer when there are fewer ids or when that would
    /// put fewer than <paramref name="min"/> ids in one, more when that would put more than <paramref name="max"/> in one;
    /// sizes differ by at most one.
    /// </summary>
    public static IEnumerable<ArraySegment<long>> Split(IReadOnlyList<long> ids, int idleWorkers, int max, int min = 1)
    {
        var array = ids as long[] ?? ids.ToArray();
        min = Math.Clamp(min, 1, max);
        var spread = Math.Min(Math.Min(array.Length, idleWorkers), Math.Max(1, array.Length / min));
        var jobs = Math.Max(spread, (array.Length + max - 1) / max);
        for (int job = 0, start = 0; job < jobs; job++)
        {
            var size = array.Length / jobs + (job < array.Length % jobs ? 1 : 0);
            yield return new ArraySegment<long>(array, start, size);
            start += size;
        }
    }
}

/// <summary>
/// A dispatch the transport failed part way (<see cref="Exception.InnerException"/> says why): the records in
/// <see cref="WithoutJob"/> have no job; the others of the call got theirs.
/// </summary>
public sealed class DispatchIncompleteException(IReadOnlyList<long> withoutJob, Exception cause)
    : Exception($"{withoutJob.Count} executions were left without a job: {cause.Message}", cause)
{
    public IReadOnlyList<long> WithoutJob { get; } = withoutJob;
}
