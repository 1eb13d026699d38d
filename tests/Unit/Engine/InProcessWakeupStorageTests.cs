using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using Hangfire;
using Hangfire.Common;
using Hangfire.InMemory;
using Hangfire.Logging;
using Hangfire.Storage;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Dispatch.HangfireQueue;
using Taskdeck.Unit.Health;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// The embedded node's workers listen to four priority queues while nearly every job goes through one. Hangfire.InMemory
/// leaves a wait node on each queue a worker waited on and got nothing from; <see cref="InProcessWakeupStorage"/> makes
/// them wait on one doorbell instead, and must not lose a wake-up, a job or the queues' order doing it.
/// </summary>
[Collection(OwnHostCollection.Name)]
public sealed class InProcessWakeupStorageTests
{
    // Hangfire.InMemory's dispatcher takes a logger from Hangfire's global log provider, which the last test host set to its
    // own, now disposed, logger factory. Alone in the process (the collection runs by itself), these tests set their own.
    public InProcessWakeupStorageTests() => LogProvider.SetCurrentLogProvider(new SilentLogProvider());

    private sealed class SilentLogProvider : ILogProvider, ILog
    {
        public ILog GetLogger(string name) => this;
        public bool Log(LogLevel logLevel, Func<string>? messageFunc, Exception? exception = null) => false;
    }

    private static readonly string[] Queues = ExecutionDispatcher.Queues;

    // No recheck: a worker that finds a job here was woken by the doorbell, never by the timer.
    private static readonly TimeSpan NeverRecheck = Timeout.InfiniteTimeSpan;

    private static InMemoryStorage NewInMemory() => new(new InMemoryStorageOptions { IdType = InMemoryStorageIdType.Long });

    [Fact]
    public void WorkersWaitingOnFourQueues_LeaveWaitNodesOnTheIdleOnes_InHangfireInMemoryAlone()
    {
        // The reason the decorator exists: when Hangfire.InMemory stops leaving nodes behind, this fails and it can go.
        using var inMemory = NewInMemory();

        RunOneJobAtATime(inMemory, jobs: 200, queue: ExecutionDispatcher.Default);

        Assert.True(WaitNodes(inMemory, ExecutionDispatcher.Low) >= 100, $"{WaitNodes(inMemory, ExecutionDispatcher.Low)} nodes left on the idle queue");
    }

    [Fact]
    public void WorkersWaitingOnFourQueues_LeaveNoWaitNodes_ThroughTheDoorbell()
    {
        using var inMemory = NewInMemory();
        using var storage = new InProcessWakeupStorage(inMemory, NeverRecheck);

        RunOneJobAtATime(storage, jobs: 200, queue: ExecutionDispatcher.Default);

        Assert.All(Queues, queue => Assert.Equal(0, WaitNodes(inMemory, queue)));
    }

    [Theory]
    [InlineData(ExecutionDispatcher.Critical)]
    [InlineData(ExecutionDispatcher.Low)]
    public async Task AnIdleWorker_IsWoken_ByAJobEnqueuedOnAnyOfItsQueues(string queue)
    {
        using var storage = new InProcessWakeupStorage(NewInMemory(), NeverRecheck);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var fetching = Task.Factory.StartNew(() => FetchAndRemove(storage, stop.Token), TaskCreationOptions.LongRunning);
        Assert.True(SpinWait.SpinUntil(() => storage.WaitingWorkers == 1, TimeSpan.FromSeconds(20)), "the worker never went idle");

        var jobId = Enqueue(storage, queue);

        Assert.Equal(jobId, await fetching);
    }

    [Fact]
    public void Fetching_KeepsTheQueuesOrder_CriticalBeforeDefaultBeforeLow()
    {
        using var storage = new InProcessWakeupStorage(NewInMemory(), NeverRecheck);
        var low = Enqueue(storage, ExecutionDispatcher.Low);
        var normal = Enqueue(storage, ExecutionDispatcher.Default);
        var critical = Enqueue(storage, ExecutionDispatcher.Critical);

        var fetched = Enumerable.Range(0, 3).Select(_ => FetchAndRemove(storage, CancellationToken.None)).ToList();

        Assert.Equal([critical, normal, low], fetched);
    }

    [Fact]
    public async Task ManyProducersAndWorkers_EveryJobIsFetchedOnce_WithoutTheRecheck()
    {
        using var storage = new InProcessWakeupStorage(NewInMemory(), NeverRecheck);
        using var stop = new CancellationTokenSource();
        var fetched = new ConcurrentBag<string>();
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Factory.StartNew(() =>
        {
            try { while (true) fetched.Add(FetchAndRemove(storage, stop.Token)); }
            catch (OperationCanceledException) { }
        }, TaskCreationOptions.LongRunning)).ToList();

        // Bursts of one to five jobs per commit, with pauses, so the workers keep going idle and being rung.
        var enqueued = new ConcurrentBag<string>();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(producer => Task.Run(async () =>
        {
            var random = new Random(producer);
            for (var burst = 0; burst < 100; burst++)
            {
                foreach (var id in EnqueueMany(storage, Enumerable.Range(0, random.Next(1, 6)).Select(_ => Queues[random.Next(Queues.Length)])))
                    enqueued.Add(id);
                if (random.Next(3) == 0) await Task.Delay(random.Next(1, 4));
            }
        })));
        // The deadline is reached only when a wake-up was lost: without the recheck such a job would wait for ever.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (fetched.Count < enqueued.Count && DateTime.UtcNow < deadline) await Task.Delay(20);
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        Assert.True(fetched.Count >= enqueued.Count, $"{enqueued.Count - fetched.Count} of {enqueued.Count} jobs never fetched");
        Assert.Equal(enqueued.Order(), fetched.Order());
    }

    [Theory]
    [InlineData(typeof(InProcessWakeupStorage), typeof(JobStorage))]
    [InlineData(typeof(InProcessWakeupConnection), typeof(JobStorageConnection))]
    [InlineData(typeof(InProcessWakeupTransaction), typeof(JobStorageTransaction))]
    public void EveryMemberTheBaseLetsAStorageOverride_IsForwarded(Type decorator, Type hangfireBase)
    {
        // A member left out would answer with Hangfire's default (often "not supported") while HasFeature, forwarded, says
        // the inner storage supports it.
        var overridable = hangfireBase.GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.IsVirtual && !m.IsFinal && m.DeclaringType != typeof(object));

        var notForwarded = overridable
            .Where(m => decorator.GetMethod(m.Name, m.GetParameters().Select(p => p.ParameterType).ToArray())?.DeclaringType != decorator)
            .Select(m => m.ToString());

        Assert.Empty(notForwarded);
    }

    /// <summary>Four workers on the four queues; each job is enqueued only once every worker has gone idle again.</summary>
    private static void RunOneJobAtATime(JobStorage storage, int jobs, string queue)
    {
        using var stop = new CancellationTokenSource();
        var done = 0;
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Factory.StartNew(() =>
        {
            try
            {
                while (true)
                {
                    FetchAndRemove(storage, stop.Token);
                    Interlocked.Increment(ref done);
                }
            }
            catch (OperationCanceledException) { }
        }, TaskCreationOptions.LongRunning)).ToList();
        for (var job = 1; job <= jobs; job++)
        {
            Enqueue(storage, queue);
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref done) == job, TimeSpan.FromSeconds(20)), $"job {job} was not fetched");
            Thread.Sleep(2);
        }
        stop.Cancel();
        Task.WaitAll(workers);
    }

    private static string FetchAndRemove(JobStorage storage, CancellationToken cancellationToken)
    {
        using var connection = storage.GetConnection();
        using var job = connection.FetchNextJob(Queues, cancellationToken);
        job.RemoveFromQueue();
        return job.JobId;
    }

    private static string Enqueue(JobStorage storage, string queue) => EnqueueMany(storage, [queue]).Single();

    private static List<string> EnqueueMany(JobStorage storage, IEnumerable<string> queues)
    {
        using var connection = storage.GetConnection();
        using var transaction = connection.CreateWriteTransaction();
        var ids = new List<string>();
        foreach (var queue in queues)
        {
            var id = connection.CreateExpiredJob(Job.FromExpression(() => NoopJob.Run()), new Dictionary<string, string>(), DateTime.UtcNow, TimeSpan.FromHours(1));
            transaction.AddToQueue(queue, id);
            ids.Add(id);
        }
        transaction.Commit();
        return ids;
    }

    public static class NoopJob
    {
        public static void Run() { }
    }

    /// <summary>Hangfire.InMemory 1.0.0's wait nodes on one queue, read through its internals (no public way to see them).</summary>
    private static int WaitNodes(InMemoryStorage storage, string queue)
    {
        const BindingFlags Any = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance;
        var dispatcher = typeof(InMemoryStorage).GetField("_longDispatcher", Any)!.GetValue(storage)!;
        var stateProperty = dispatcher.GetType().BaseType!.GetProperty("State", Any)!;
        var state = stateProperty.GetValue(dispatcher)!;
        var queues = (IDictionary)state.GetType().GetProperty("Queues", Any)!.GetValue(state)!;
        if (!queues.Contains(queue)) return 0;
        var entry = queues[queue]!;
        var node = entry.GetType().GetProperty("WaitHead", Any)!.GetValue(entry);
        var nextField = node!.GetType().GetField("Next", Any)!;
        var count = 0;
        while ((node = nextField.GetValue(node)) is not null) count++;
        return count;
    }
}
