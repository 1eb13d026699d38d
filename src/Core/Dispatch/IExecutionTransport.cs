namespace Taskdeck.Core.Dispatch;

/// <summary>
/// What Core needs from the durable queue and its workers (Hangfire today, <see cref="HangfireQueue.HangfireTransport"/>):
/// a job only says "run these executions"; the execution records stay the source of truth. Core speaks queue names
/// and job ids, never the queue's own types.
/// </summary>
public interface IExecutionTransport
{
    /// <summary>One job, on <paramref name="queue"/> now, that runs these executions one after the other (one id: a plain job). Answers its id.</summary>
    string Enqueue(string queue, IReadOnlyList<long> executionIds);

    /// <summary>One job for one execution that waits until <paramref name="runAt"/>, then goes to <paramref name="queue"/>. Answers its id.</summary>
    string Schedule(long executionId, string queue, DateTimeOffset runAt);

    /// <summary>
    /// Best effort: drops a job that carries only one execution. A job carrying several is left alone: its run skips
    /// every execution that is no longer waiting (a cancel inside a batch not yet started).
    /// </summary>
    void Remove(string jobId);

    /// <summary>Moves a job still waiting for its start time to <paramref name="queue"/> now; false when it was not waiting.</summary>
    bool Wake(string jobId, string queue);

    /// <summary>Where a job is now, for the reconciler (one reader per pass).</summary>
    IJobStates ReadJobStates();

    /// <summary>
    /// True when <paramref name="failure"/> says the transport's store or the database under it could not be reached (a
    /// restart, a failover, a broken connection, a lock not obtained in time): it will work again and the records are
    /// durable meanwhile, so the <see cref="Workers.Reconciler"/> gives them their jobs later. False for a defect.
    /// </summary>
    bool IsUnavailable(Exception failure);

    /// <summary>Worker threads that take jobs from these queues across the cluster (at least 1): batches are sized to keep them all busy.</summary>
    int ClusterWorkers { get; }
}

/// <summary>A job's whereabouts: waiting (in a queue, or for its time), being run by a worker of a server, or gone (finished, failed, deleted, unknown).</summary>
public enum JobWhereabouts { Gone, Waiting, Running }

public interface IJobStates : IDisposable
{
    /// <summary>Where the job is; for a running one, the id of the server that runs it (it starts with that node's id).</summary>
    (JobWhereabouts Where, string? Server) Find(string jobId);
}
