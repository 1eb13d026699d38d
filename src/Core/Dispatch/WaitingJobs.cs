using Taskdeck.Core.Executions;

namespace Taskdeck.Core.Dispatch;

/// <summary>
/// The jobs this node made that no worker has taken yet, as far as this node has seen: a job counts as taken once a worker
/// of this node starts it, or once any of its executions leaves the queue (claimed, cancelled …) here or, through the
/// change feed, on another node. The
/// <see cref="ExecutionDispatcher"/> reads it to size batches: a worker that will find a job already waiting for it gains
/// nothing from one more small job, while each job costs Hangfire's ≈ 55 statements (BENCHMARKS.md, session 31).
/// </summary>
/// <remarks>
/// An estimate. Low: jobs made by other nodes are not counted (the dispatcher then splits as finely as when nothing
/// waits). High, for at most <see cref="ForgetAfter"/>: a job another node's worker started and ended without moving any
/// of its executions (all taken elsewhere meanwhile, or sent back for capacity) — then a burst travels in fuller jobs,
/// whose executions a worker that runs long hands back (<see cref="DispatchOptions.HandBackMilliseconds"/>).
/// </remarks>
public sealed class WaitingJobs(TimeProvider time) : IExecutionObserver, Events.IRemoteChangeObserver
{
    public static readonly TimeSpan ForgetAfter = TimeSpan.FromSeconds(10);

    private sealed class Job(int queue, long madeAt, long[] executionIds)
    {
        public readonly int Queue = queue;
        public readonly long MadeAt = madeAt;
        public readonly long[] ExecutionIds = executionIds;
        public bool Taken;
    }

    private readonly Lock _gate = new();
    private readonly Dictionary<long, Job> _byExecution = [];
    private readonly Queue<Job> _byAge = new();
    private readonly int[] _waiting = new int[ExecutionDispatcher.Queues.Length];

    /// <summary>A job was made on <paramref name="queue"/> carrying these executions.</summary>
    public void Made(string queue, IReadOnlyList<long> executionIds)
    {
        var index = Array.IndexOf(ExecutionDispatcher.Queues, queue);
        if (index < 0) return;
        var job = new Job(index, time.GetTimestamp(), [.. executionIds]);
        lock (_gate)
        {
            ForgetOld();
            foreach (var id in job.ExecutionIds) _byExecution[id] = job;
            _byAge.Enqueue(job);
            _waiting[index]++;
        }
    }

    /// <summary>
    /// The job carrying these executions waits no more: a worker of this node started it (whatever it then finds to do),
    /// or it was never made (the transport refused it).
    /// </summary>
    public void NoLongerWaits(IReadOnlyList<long> executionIds)
    {
        lock (_gate)
        {
            foreach (var id in executionIds)
            {
                if (!_byExecution.TryGetValue(id, out var job)) continue;
                Take(job);
                return;
            }
        }
    }

    /// <summary>An execution entered <paramref name="state"/>: out of the queue unless it waits still (or again).</summary>
    public void Entered(long executionId, ExecutionState state)
    {
        if (state is ExecutionState.Pending or ExecutionState.Scheduled or ExecutionState.Queued) return;
        lock (_gate)
        {
            if (_byExecution.Remove(executionId, out var job)) Take(job);
        }
    }

    public Task OnTransitionedAsync(TransitionResult result, CancellationToken ct)
    {
        if (result is { Applied: true, NewState: { } state }) Entered(result.ExecutionId, state);
        return Task.CompletedTask;
    }

    public Task OnRemoteChangesAsync(IReadOnlyList<Events.StateChanged> changes, CancellationToken ct)
    {
        foreach (var change in changes) Entered(change.ExecutionId, change.To);
        return Task.CompletedTask;
    }

    /// <summary>Jobs waiting that a worker takes before (or with) a job on <paramref name="queue"/>: its own queue's and those fetched first.</summary>
    public int Ahead(string queue)
    {
        var index = Array.IndexOf(ExecutionDispatcher.Queues, queue);
        lock (_gate)
        {
            ForgetOld();
            var ahead = 0;
            for (var i = 0; i <= index; i++) ahead += _waiting[i];
            return ahead;
        }
    }

    /// <summary>Under the gate: the job stops counting as waiting (once).</summary>
    private void Take(Job job)
    {
        if (job.Taken) return;
        job.Taken = true;
        _waiting[job.Queue]--;
    }

    private void ForgetOld()
    {
        var now = time.GetTimestamp();
        while (_byAge.TryPeek(out var oldest) && time.GetElapsedTime(oldest.MadeAt, now) >= ForgetAfter)
        {
            _byAge.Dequeue();
            Take(oldest);
            // An execution sent again later belongs to its newer job.
            foreach (var id in oldest.ExecutionIds)
                if (_byExecution.TryGetValue(id, out var job) && job == oldest) _byExecution.Remove(id);
        }
    }
}
