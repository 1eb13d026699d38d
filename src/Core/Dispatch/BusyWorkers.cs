namespace Taskdeck.Core.Dispatch;

/// <summary>
/// How many of this node's workers are running an execution job now. With the jobs this node made that still wait
/// (<see cref="WaitingJobs"/>) it tells whether a worker here is idle: only then is it worth handing work back from a
/// job whose executions add up to a long run (<see cref="HangfireQueue.ExecutionBatchJob"/>).
/// </summary>
public sealed class BusyWorkers
{
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>A worker took an execution job; disposing the answer says it is done with it.</summary>
    public IDisposable Enter()
    {
        Interlocked.Increment(ref _count);
        return new Leave(this);
    }

    private sealed class Leave(BusyWorkers workers) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0) Interlocked.Decrement(ref workers._count);
        }
    }
}
