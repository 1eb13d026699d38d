using Hangfire;
using Hangfire.Logging;
using Hangfire.Server;
using Hangfire.States;
using Hangfire.Storage;

namespace Taskdeck.Core.Dispatch.HangfireQueue;

/// <summary>
/// An in-process job storage whose idle workers wait on one doorbell that every enqueue rings, instead of on each of the
/// queues they listen to. Everything else is the inner storage's.
/// <para>
/// Why: Hangfire.InMemory (1.0.0) makes a worker that finds its queues empty push a wait node onto every queue it listens
/// to, and takes a node off a queue only when a job passes through that queue. A node's worker gets its job from one
/// queue; its nodes on the others stay. Taskdeck's workers listen to four priority queues and nearly all work goes
/// through one, so the embedded node kept about two dead nodes (with their disposed events) per execution: 77,777 of them,
/// ≈ 6.8 MB, after 36,000 executions, and no end to it (BENCHMARKS.md, issue 15). Here a worker asks the inner storage
/// for a job only without waiting — its cancelled-token call checks the queues in order and returns or gives up before
/// pushing anything — and waits on the <see cref="Doorbell"/> between tries; the queues' fetch order is kept.
/// </para>
/// <para>
/// Only for a storage that lives in this process: the doorbell hears the enqueues made through this node, and a job put
/// back on its queue (<see cref="IFetchedJob.Requeue"/>) or enqueued anywhere else is found at the next try a second later.
/// Its workers all listen to the same queues (the node's one server on <see cref="ExecutionDispatcher.Queues"/>): a
/// worker woken for a job on a queue it does not listen to would spend the wake-up another worker needed.
/// </para>
/// </summary>
public sealed class InProcessWakeupStorage(JobStorage inner, TimeSpan idleRecheck) : JobStorage, IDisposable
{
    /// <summary>The longest an idle worker waits, unless rung, before it looks at its queues again (as Hangfire.InMemory's own wait).</summary>
    public static readonly TimeSpan DefaultIdleRecheck = TimeSpan.FromSeconds(1);

    private readonly Doorbell _doorbell = new();

    public InProcessWakeupStorage(JobStorage inner) : this(inner, DefaultIdleRecheck) { }

    public JobStorage Inner => inner;

    /// <summary>Workers blocked on the doorbell now (tests wait for a worker to be idle before they ring).</summary>
    internal int WaitingWorkers => _doorbell.Waiting;

    public override IStorageConnection GetConnection() =>
        new InProcessWakeupConnection((JobStorageConnection)inner.GetConnection(), _doorbell, idleRecheck);

    // Reads only: nothing fetched or enqueued through it, so the inner storage's own connection serves.
    public override IStorageConnection GetReadOnlyConnection() => inner.GetReadOnlyConnection();

    public override IMonitoringApi GetMonitoringApi() => inner.GetMonitoringApi();
    public override bool LinearizableReads => inner.LinearizableReads;
    public override bool HasFeature(string featureId) => inner.HasFeature(featureId);

#pragma warning disable CS0618 // IServerComponent is obsolete in Hangfire, but a storage may still hand them out.
    [Obsolete("Hangfire's own member is obsolete; forwarded for storages that still hand out components.")]
    public override IEnumerable<IServerComponent> GetComponents() => inner.GetComponents();
#pragma warning restore CS0618
    public override IEnumerable<IBackgroundProcess> GetServerRequiredProcesses() => inner.GetServerRequiredProcesses();
    public override IEnumerable<IBackgroundProcess> GetStorageWideProcesses() => inner.GetStorageWideProcesses();
    public override IEnumerable<IStateHandler> GetStateHandlers() => inner.GetStateHandlers();
    public override void WriteOptionsToLog(ILog logger) => inner.WriteOptionsToLog(logger);
    public override string? ToString() => inner.ToString();

    public void Dispose() => (inner as IDisposable)?.Dispose();

    /// <summary>
    /// Wakes as many idle workers as jobs were enqueued, never more than are waiting: a permit nobody takes would only wake
    /// a worker later for nothing. (Its semaphore is never disposed: it holds no handle until one is asked for.)
    /// </summary>
    internal sealed class Doorbell
    {
        private readonly SemaphoreSlim _permits = new(0);
        private int _listeners;
        private int _waiting;

        public int Waiting => Volatile.Read(ref _waiting);

        /// <summary>A worker says it is about to look and then wait, so a ring after its look still wakes it.</summary>
        public void Listen() => Interlocked.Increment(ref _listeners);

        public void StopListening() => Interlocked.Decrement(ref _listeners);

        /// <summary>
        /// Blocks until rung, the timeout, or the token. A worker stopped just as it was rung hands its permit on: the
        /// job it was rung for is another listener's to take.
        /// </summary>
        public void Wait(TimeSpan timeout, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _waiting);
            try
            {
                if (_permits.Wait(timeout, cancellationToken) && cancellationToken.IsCancellationRequested) _permits.Release();
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }
        }

        public void Ring(int jobs)
        {
            var wake = Math.Min(jobs, Volatile.Read(ref _listeners) - _permits.CurrentCount);
            if (wake > 0) _permits.Release(wake);
        }
    }
}
