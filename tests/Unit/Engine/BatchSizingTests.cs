using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Taskdeck.Core;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// How the dispatcher sizes its jobs: one per idle worker (of its own node) while workers wait for work, full jobs while every worker
/// already has a job waiting for it (each job costs Hangfire the same whatever it carries), and the jobs it counts as
/// waiting are those no worker has been seen to take, here or on another node.
/// </summary>
public sealed class BatchSizingTests
{
    private const int Workers = 20;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-06T12:00:00Z"));
    private readonly RecordingTransport _transport = new();
    private readonly WaitingJobs _waiting;
    private readonly BusyWorkers _busy = new();
    private readonly ExecutionDispatcher _dispatcher;

    public BatchSizingTests()
    {
        _waiting = new WaitingJobs(_time);
        _dispatcher = DispatcherFor(new TaskdeckOptions { Node = { WorkerCount = Workers } });
    }

    [Fact]
    public async Task ABurstWhileNoJobWaits_GivesEveryWorkerAJob()
    {
        await DispatchAsync(Ids(1, 500));

        Assert.Equal(Workers, _transport.Jobs.Count);
        Assert.All(_transport.Jobs, j => Assert.Equal(25, j.Ids.Count));
    }

    [Fact]
    public async Task ABurstWhileEveryWorkerHasAJobWaiting_TravelsInFullJobs()
    {
        await DispatchAsync(Ids(1, 500));
        _transport.Jobs.Clear();

        await DispatchAsync(Ids(1001, 500));

        var full = new TaskdeckOptions().Dispatch.MaxBatchOn(StorageProvider.Sqlite);
        Assert.Equal(500 / full, _transport.Jobs.Count);
        Assert.All(_transport.Jobs, j => Assert.Equal(full, j.Ids.Count));
    }

    [Fact]
    public async Task APartOfABigSubmissionWithMoreBehindIt_TravelsInFullJobs_ThoughEveryWorkerIsIdle()
    {
        await _dispatcher.DispatchManyAsync([.. Ids(1, 500).Select(id => (id, 0, (DateTimeOffset?)null))], _time.GetUtcNow(), moreBehind: true);

        var full = new TaskdeckOptions().Dispatch.MaxBatchOn(StorageProvider.Sqlite);
        Assert.Equal(500 / full, _transport.Jobs.Count);
        Assert.All(_transport.Jobs, j => Assert.Equal(full, j.Ids.Count));
    }

    /// <summary>A server database pays each job milliseconds of its own; the embedded one's jobs cost little.</summary>
    [Theory]
    [InlineData(StorageProvider.PostgreSql, 100)]
    [InlineData(StorageProvider.SqlServer, 100)]
    [InlineData(StorageProvider.Sqlite, 50)]
    public async Task AFullJobCarriesMore_OnAServerDatabase(StorageProvider provider, int full)
    {
        var dispatcher = DispatcherFor(new TaskdeckOptions { Storage = { Provider = provider }, Node = { WorkerCount = Workers } });

        await dispatcher.DispatchManyAsync([.. Ids(1, 500).Select(id => (id, 0, (DateTimeOffset?)null))], _time.GetUtcNow(), moreBehind: true);

        Assert.All(_transport.Jobs, j => Assert.Equal(full, j.Ids.Count));
    }

    [Fact]
    public async Task JobsSeenTaken_HereOrOnAnotherNode_FreeTheirWorkersForSmallJobsAgain()
    {
        await DispatchAsync(Ids(1, 500));
        var first = _transport.Jobs.ToList();
        _transport.Jobs.Clear();
        // Half the jobs claimed here, the other half on another node (read from the change feed).
        foreach (var job in first.Take(10))
            await _waiting.OnTransitionedAsync(new TransitionResult(job.Ids[0], Transition.Claim, true, ExecutionState.Queued, ExecutionState.Running, 1, _time.GetUtcNow(), null), default);
        await _waiting.OnRemoteChangesAsync(first.Skip(10).Select(job =>
            new StateChanged(job.Ids[0], _time.GetUtcNow(), ExecutionState.Queued, ExecutionState.Running, Transition.Claim, 1, null, "node-b")).ToList(), default);

        await DispatchAsync(Ids(1001, 500));

        Assert.Equal(Workers, _transport.Jobs.Count);
    }

    [Fact]
    public async Task AJobCountsAsWaiting_UntilAnExecutionOfItLeavesTheQueue_NotWhileItWaitsThere()
    {
        await DispatchAsync(Ids(1, 20));
        Assert.Equal(Workers, _waiting.Ahead(ExecutionDispatcher.Default));

        // Released, or scheduled again: still waiting in (or for) the queue.
        await _waiting.OnTransitionedAsync(new TransitionResult(1, Transition.Release, true, ExecutionState.Pending, ExecutionState.Queued, 0, _time.GetUtcNow(), null), default);
        Assert.Equal(Workers, _waiting.Ahead(ExecutionDispatcher.Default));
        // A cancel before any worker took it frees the worker as a claim does.
        await _waiting.OnTransitionedAsync(new TransitionResult(2, Transition.CancelWaiting, true, ExecutionState.Queued, ExecutionState.Cancelled, 0, _time.GetUtcNow(), null), default);
        Assert.Equal(Workers - 1, _waiting.Ahead(ExecutionDispatcher.Default));
    }

    [Fact]
    public async Task AJobAWorkerHereStarts_NoLongerWaits_EvenWhenItMovesNoExecution()
    {
        await DispatchAsync(Ids(1, 500));

        // A worker of this node started each job (and found its records cancelled or taken elsewhere: no transition).
        foreach (var job in _transport.Jobs) _waiting.NoLongerWaits(job.Ids);

        Assert.Equal(0, _waiting.Ahead(ExecutionDispatcher.Default));
    }

    [Fact]
    public async Task AJobStartedBeforeTheTransportAnswered_IsNotCountedAsWaiting()
    {
        // The in-process storage wakes a worker at once: it may start the job before Enqueue returns.
        _transport.OnEnqueue = ids => _waiting.NoLongerWaits(ids);

        await DispatchAsync(Ids(1, 500));

        Assert.Equal(0, _waiting.Ahead(ExecutionDispatcher.Default));
    }

    [Fact]
    public async Task AJobNeverSeenTaken_StopsCountingAfterAWhile_SoTheEstimateErrsTowardsSmallJobs()
    {
        await DispatchAsync(Ids(1, 500));

        _time.Advance(WaitingJobs.ForgetAfter);

        Assert.Equal(0, _waiting.Ahead(ExecutionDispatcher.Default));
    }

    [Fact]
    public async Task WaitingJobsOfALowerPriority_DoNotCoarsenAHigherOnesBatches_WhichWorkersFetchFirst()
    {
        await DispatchAsync(Ids(1, 500), priority: -1);
        _transport.Jobs.Clear();

        await DispatchAsync(Ids(1001, 500), priority: 5);

        Assert.Equal(Workers, _transport.Jobs.Count);
        Assert.All(_transport.Jobs, j => Assert.Equal(ExecutionDispatcher.High, j.Queue));
        Assert.Equal(2 * Workers, _waiting.Ahead(ExecutionDispatcher.Low));
    }

    [Fact]
    public async Task ANodeWithWorkers_SizesItsJobsForItsOwnWorkers_NotTheWholeClusters()
    {
        _transport.Workers = 2 * Workers; // another node's as many again

        await DispatchAsync(Ids(1, 500));

        Assert.Equal(Workers, _transport.Jobs.Count);
        Assert.All(_transport.Jobs, j => Assert.Equal(25, j.Ids.Count));
    }

    [Fact]
    public async Task ANodeWithoutWorkers_SizesItsJobsForTheClustersWorkers()
    {
        _transport.Workers = 2 * Workers;
        var consoleOnly = DispatcherFor(new TaskdeckOptions { Node = { WorkerCount = Workers, Roles = "Console" } });

        await consoleOnly.DispatchManyAsync([.. Ids(1, 500).Select(id => (id, 0, (DateTimeOffset?)null))], _time.GetUtcNow());

        Assert.Equal(2 * Workers, _transport.Jobs.Count);
    }

    private ExecutionDispatcher DispatcherFor(TaskdeckOptions options) =>
        new(_transport, new NoDispatchStore(), _waiting, _busy, Options.Create(options));

    private Task DispatchAsync(IEnumerable<long> ids, int priority = 0) =>
        _dispatcher.DispatchManyAsync([.. ids.Select(id => (id, priority, (DateTimeOffset?)null))], _time.GetUtcNow());

    private static IEnumerable<long> Ids(long first, int count) => Enumerable.Range(0, count).Select(i => first + i);

    private sealed class RecordingTransport : IExecutionTransport
    {
        public readonly List<(string Queue, IReadOnlyList<long> Ids)> Jobs = [];
        public Action<IReadOnlyList<long>>? OnEnqueue;
        private int _made;

        public string Enqueue(string queue, IReadOnlyList<long> executionIds)
        {
            lock (Jobs) Jobs.Add((queue, executionIds.ToArray()));
            OnEnqueue?.Invoke(executionIds);
            return $"job-{Interlocked.Increment(ref _made)}";
        }

        public string Schedule(long executionId, string queue, DateTimeOffset runAt) => throw new NotSupportedException();
        public void Remove(string jobId) { }
        public bool Wake(string jobId, string queue) => false;
        public IJobStates ReadJobStates() => throw new NotSupportedException();
        public bool IsUnavailable(Exception failure) => false;
        public int Workers = BatchSizingTests.Workers;
        public int ClusterWorkers => Workers;
    }

    private sealed class NoDispatchStore : IDispatchStore
    {
        public Task SetHangfireJobAsync(long id, string jobId, CancellationToken ct = default) => Task.CompletedTask;
        public Task SetHangfireJobsAsync(IReadOnlyList<(long Id, string JobId)> jobs, CancellationToken ct = default) => Task.CompletedTask;
        public Task<IReadOnlyList<DispatchRow>> FindDispatchableAsync(long afterId, int limit, CancellationToken ct = default) => throw new NotSupportedException();
        public Task<IReadOnlyList<DispatchRow>> FindDispatchableAsync(IReadOnlyCollection<long> ids, CancellationToken ct = default) => throw new NotSupportedException();
        public Task<IReadOnlyList<long>> FindExpiredAsync(DateTimeOffset now, int limit, CancellationToken ct = default) => throw new NotSupportedException();
    }
}
