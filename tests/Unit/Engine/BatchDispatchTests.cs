using System.Diagnostics;
using System.Net.Http.Json;
using Hangfire;
using Hangfire.States;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Audit;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Dispatch.HangfireQueue;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using static Taskdeck.Core.Executions.ExecutionState;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// Batched dispatch on the real engine (SQLite file, Hangfire InMemory, real workers): executions ready together travel
/// in one job per worker, each claimed while the one before still commits its end, a cancel inside a batch not yet
/// started skips only that one, a long execution hands the rest back, and the ids left in a batch of a node that died
/// are dispatched again.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class BatchDispatchTests(EngineHost host)
{
    [Theory]
    [InlineData(1, 20, 50, 1)]
    [InlineData(3, 20, 50, 3)]
    [InlineData(500, 20, 50, 20)]
    [InlineData(101, 20, 50, 20)]
    [InlineData(5000, 20, 50, 100)]
    [InlineData(7, 1, 3, 3)]
    [InlineData(500, 0, 50, 10)]
    [InlineData(1, 0, 50, 1)]
    public void Split_GivesEveryIdleWorkerSome_AndNoJobMoreThanTheMax(int count, int idleWorkers, int max, int expectedJobs)
    {
        var ids = Enumerable.Range(1, count).Select(i => (long)i).ToList();

        var jobs = ExecutionDispatcher.Split(ids, idleWorkers, max).ToList();

        Assert.Equal(expectedJobs, jobs.Count);
        Assert.All(jobs, j => Assert.InRange(j.Count, 1, max));
        Assert.True(jobs.Max(j => j.Count) - jobs.Min(j => j.Count) <= 1, "batch sizes differ by at most one");
        Assert.Equal(ids, jobs.SelectMany(j => j));
    }

    [Theory]
    [InlineData(500, 20, 10)]
    [InlineData(40, 20, 1)]
    [InlineData(100, 20, 2)]
    [InlineData(5000, 20, 100)]
    [InlineData(3, 20, 1)]
    public void Split_WithAMinimum_SpreadsOnlyAsFarAsEveryJobCarriesThatMany(int count, int idleWorkers, int expectedJobs)
    {
        var ids = Enumerable.Range(1, count).Select(i => (long)i).ToList();

        var jobs = ExecutionDispatcher.Split(ids, idleWorkers, max: 50, min: 50).ToList();

        Assert.Equal(expectedJobs, jobs.Count);
        Assert.All(jobs, j => Assert.InRange(j.Count, Math.Min(count, 50), 50));
        Assert.Equal(ids, jobs.SelectMany(j => j));
    }

    [Fact]
    public async Task ASubmissionReadyTogether_TravelsInOneJobPerWorker_AndEachRunsOnce()
    {
        const int count = 100;
        var workers = host.Get<IExecutionTransport>().ClusterWorkers;

        var submitted = await host.Executions.SubmitManyAsync(Enumerable.Repeat(Count(), count).ToList());

        var ids = submitted.Select(e => e.Id).ToHashSet();
        // The first job that carried each id (a later one would be a hand-back of a batch whose current one ran long).
        var firstJob = new Dictionary<long, string>();
        foreach (var (_, carried, jobId) in host.Jobs)
            foreach (var id in carried.Where(ids.Contains))
                firstJob.TryAdd(id, jobId);
        Assert.Equal(ids.Order(), firstJob.Keys.Order());
        var jobs = firstJob.Values.Distinct().Count();
        Assert.True(jobs <= Math.Min(count, workers), $"{count} ready executions went out in {jobs} jobs for {workers} workers");
        foreach (var id in ids)
        {
            var detail = await host.WaitForStateAsync(id, Succeeded, TimeSpan.FromSeconds(60));
            Assert.Single(detail.Attempts);
            Assert.Equal(1, host.Runs.GetValueOrDefault(id));
        }
    }

    [Fact]
    public async Task Cancel_OfAnExecutionInABatchNotYetStarted_KeepsTheBatch_WhichRunsTheOthersOnly()
    {
        var ids = new[] { await host.QueuedWithoutJobAsync("test.count"), await host.QueuedWithoutJobAsync("test.count"), await host.QueuedWithoutJobAsync("test.count") };
        var jobs = host.Get<IBackgroundJobClient>();
        // A batch job that waits (scheduled an hour ahead) so the cancel surely comes before it starts.
        var jobId = jobs.Create(HangfireTransport.JobFor(ExecutionDispatcher.Default, ids), new ScheduledState(TimeSpan.FromHours(1)));
        await host.Get<ExecutionStore>().SetHangfireJobsAsync(ids.Select(id => (id, jobId)).ToList());

        var cancel = await host.Executions.CancelAsync(ids[1], Actor.System, "one of a batch");

        Assert.Equal(Cancelled, cancel.State);
        using (var connection = host.Get<JobStorage>().GetConnection())
            Assert.Equal(ScheduledState.StateName, connection.GetStateData(jobId)?.Name);
        Assert.True(host.Get<ExecutionDispatcher>().Wake(jobId, 0), "the batch job was still waiting");
        foreach (var id in new[] { ids[0], ids[2] })
        {
            var done = await host.WaitForStateAsync(id, Succeeded, TimeSpan.FromSeconds(60));
            Assert.Single(done.Attempts);
            Assert.Equal(1, host.Runs.GetValueOrDefault(id));
        }
        var skipped = await host.WaitForAsync(ids[1], _ => true);
        Assert.Equal(Cancelled, skipped.Execution.State);
        Assert.Empty(skipped.Attempts);
        Assert.Equal(0, host.Runs.GetValueOrDefault(ids[1]));
    }

    // On a cluster the dispatcher's note of a batch's job may skip a record another node holds at that instant
    // (SetHangfireJobsAsync): every claim names the job it runs in, so each record still names the job that ran it.
    [Fact]
    public async Task EveryExecutionOfABatch_NamesTheJobThatRanIt_WithoutTheDispatchersNote()
    {
        var ids = new[] { await host.QueuedWithoutJobAsync("test.count"), await host.QueuedWithoutJobAsync("test.count") };

        var jobId = host.Get<IBackgroundJobClient>().Create(HangfireTransport.JobFor(ExecutionDispatcher.Default, ids), new EnqueuedState(ExecutionDispatcher.Default));

        foreach (var id in ids)
        {
            var done = await host.WaitForStateAsync(id, Succeeded, TimeSpan.FromSeconds(60));
            Assert.Single(done.Attempts);
            Assert.Equal(jobId, done.Execution.HangfireJobId);
        }
    }

    [Fact]
    public async Task ABatchWhoseExecutionRunsLong_HandsTheRestBack_ForOtherWorkers()
    {
        var gated = await host.QueuedWithoutJobAsync("test.gate");
        var rest = new[] { await host.QueuedWithoutJobAsync("test.count"), await host.QueuedWithoutJobAsync("test.count") };
        var gate = host.Gates.GetOrAdd(gated, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        var batch = Task.Run(() => host.Get<ExecutionBatchJob>().RunAsync(ExecutionDispatcher.Default, [gated, .. rest], CancellationToken.None));

        foreach (var id in rest)
            Assert.Single((await host.WaitForStateAsync(id, Succeeded, TimeSpan.FromSeconds(60))).Attempts);
        Assert.Equal(Running, (await host.Queries.GetDetailAsync(gated))!.Execution.State);
        // They had no job of their own: only the batch's hand-back can have sent them to the workers.
        Assert.All(rest, id => Assert.Contains(host.Jobs, j => j.Ids.Contains(id)));
        gate.TrySetResult();
        await batch.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Single((await host.WaitForStateAsync(gated, Succeeded, TimeSpan.FromSeconds(60))).Attempts);
        Assert.All(rest, id => Assert.Equal(1, host.Runs.GetValueOrDefault(id)));
    }

    // Timed from the claim, a noop whose claim queued behind other commits on a saturated database counted as long work:
    // its batch was handed back, making more jobs for the same database (BENCHMARKS.md, session 35).
    [Fact]
    public async Task ABatchWhoseClaimWaitsOnTheDatabase_KeepsItsExecutions_TheWaitIsNotLongWork()
    {
        var ids = new[] { await host.QueuedWithoutJobAsync("test.count"), await host.QueuedWithoutJobAsync("test.count") };
        var dispatch = host.Get<IOptions<TaskdeckOptions>>().Value.Dispatch;
        var handBack = dispatch.HandBackMilliseconds;
        dispatch.HandBackMilliseconds = 500;
        try
        {
            Task batch;
            using (await host.Get<WriteGate>().EnterAsync())
            {
                batch = Task.Run(() => host.Get<ExecutionBatchJob>().RunAsync(ExecutionDispatcher.Default, ids, CancellationToken.None));
                // The first claim cannot commit meanwhile: three times the hand-back time.
                await Task.Delay(1500);
            }
            await batch.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            dispatch.HandBackMilliseconds = handBack;
        }

        Assert.DoesNotContain(host.Jobs, job => job.Ids.Intersect(ids).Any());
        foreach (var id in ids)
        {
            Assert.Equal(Succeeded, (await host.Queries.GetDetailAsync(id))!.Execution.State);
            Assert.Equal(1, host.Runs.GetValueOrDefault(id));
        }
    }

    // Jobs of many executions each (Dispatch:MinBatch) must not keep medium-length work on one worker: its sum runs long as
    // one long execution does, and the rest is spread while a worker of the node is idle.
    [Fact]
    public async Task ABatchWhoseExecutionsAddUpToLongWork_HandsTheRestBack_ThoughNoneRanLongAlone()
    {
        var gated = new[] { await host.QueuedWithoutJobAsync("test.gate"), await host.QueuedWithoutJobAsync("test.gate"), await host.QueuedWithoutJobAsync("test.gate") };
        var (kept, spread) = (await host.QueuedWithoutJobAsync("test.count"), await host.QueuedWithoutJobAsync("test.count"));
        var dispatch = host.Get<IOptions<TaskdeckOptions>>().Value.Dispatch;
        var (handBack, minBatch) = (dispatch.HandBackMilliseconds, dispatch.MinBatch);
        (dispatch.HandBackMilliseconds, dispatch.MinBatch) = (1000, 50);
        try
        {
            var batch = Task.Run(() => host.Get<ExecutionBatchJob>().RunAsync(ExecutionDispatcher.Default, [.. gated, kept, spread], CancellationToken.None));
            // Each works 500 ms: half the hand-back time alone, one and a half times it together.
            foreach (var id in gated)
            {
                await host.WaitForStateAsync(id, Running, TimeSpan.FromSeconds(30));
                await Task.Delay(500);
                host.Gates.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }
            await batch.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            (dispatch.HandBackMilliseconds, dispatch.MinBatch) = (handBack, minBatch);
        }

        Assert.Contains(host.Jobs, job => job.Ids.Contains(spread));
        Assert.DoesNotContain(host.Jobs, job => job.Ids.Intersect(gated).Any());
        foreach (var id in (long[])[.. gated, kept, spread])
            Assert.Single((await host.WaitForStateAsync(id, Succeeded, TimeSpan.FromSeconds(60))).Attempts);
        Assert.Equal(1, host.Runs.GetValueOrDefault(kept));
        Assert.Equal(1, host.Runs.GetValueOrDefault(spread));
    }

    // Spreading is an optimisation: a hand-back the transport refuses leaves the rest with the batch, which runs them.
    [Fact]
    public async Task AHandBackTheTransportRefuses_LeavesTheRestWithTheBatch_WhichRunsThemAfterTheLongOne()
    {
        var tag = "refused-" + Guid.NewGuid().ToString("N")[..6];
        var gated = await host.QueuedWithoutJobAsync("test.gate");
        var rest = new List<long>();
        foreach (var _ in Enumerable.Range(0, 2))
        {
            var spec = new NewExecution { Kind = ExecutorKind.Handler, Name = "test.count", TaskId = Guid.NewGuid().ToString(), Tags = [tag] };
            rest.Add(Assert.Single(await host.Get<ExecutionStore>().InsertAsync([(spec, Queued)], DateTimeOffset.UtcNow, host.Get<NodeIdentity>().Id)));
        }
        var dispatch = host.Get<IOptions<TaskdeckOptions>>().Value.Dispatch;
        var handBack = dispatch.HandBackMilliseconds;
        dispatch.HandBackMilliseconds = 300;
        host.Faults.FailFirstEnqueueTagged(tag, new TimeoutException("the job store did not answer"));
        try
        {
            var batch = Task.Run(() => host.Get<ExecutionBatchJob>().RunAsync(ExecutionDispatcher.Default, [gated, .. rest], CancellationToken.None));
            await host.WaitForStateAsync(gated, Running, TimeSpan.FromSeconds(30));
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!host.Faults.Refused.Any(ids => ids.Intersect(rest).Any()) && DateTime.UtcNow < deadline) await Task.Delay(25);
            host.Gates.GetOrAdd(gated, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            await batch.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            host.Faults.Disarm();
            dispatch.HandBackMilliseconds = handBack;
        }

        Assert.Contains(host.Faults.Refused, ids => ids.Intersect(rest).Any());
        Assert.DoesNotContain(host.Jobs, job => job.Ids.Intersect(rest).Any());
        foreach (var id in (long[])[gated, .. rest])
            Assert.Single((await host.Queries.GetDetailAsync(id))!.Attempts);
        Assert.All(rest, id => Assert.Equal(1, host.Runs.GetValueOrDefault(id)));
    }

    [Fact]
    public async Task TheRunner_HandsTheWorkerBack_OnceTheWorkIsDone_WhileItsClosingTransitionIsStillCommitting()
    {
        var id = await host.QueuedWithoutJobAsync("test.gate");
        var work = host.Gates.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        var started = host.Get<ExecutionRunner>().StartAsync(id, CancellationToken.None);
        await host.WaitForStateAsync(id, Running, TimeSpan.FromSeconds(30));

        Task recorded;
        using (await host.Get<WriteGate>().EnterAsync())
        {
            work.TrySetResult();
            // Nothing can commit now: the worker is free all the same, with the closing write still to come.
            recorded = await started.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.False(recorded.IsCompleted, "the closing transition was recorded while every write was held");
            Assert.Equal(Running, (await host.Queries.GetDetailAsync(id))!.Execution.State);
        }

        await recorded.WaitAsync(TimeSpan.FromSeconds(30));
        var done = await host.Queries.GetDetailAsync(id);
        Assert.Equal(Succeeded, done!.Execution.State);
        Assert.Single(done.Attempts);
    }

    [Fact]
    public async Task ABatchJob_EndsOnlyAfterItsLastExecutionsClosingTransitionCommitted()
    {
        var first = await host.QueuedWithoutJobAsync("test.count");
        var last = await host.QueuedWithoutJobAsync("test.gate");
        var work = host.Gates.GetOrAdd(last, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        var batch = Task.Run(() => host.Get<ExecutionBatchJob>().RunAsync(ExecutionDispatcher.Default, [first, last], CancellationToken.None));
        await host.WaitForStateAsync(last, Running, TimeSpan.FromSeconds(30));

        using (await host.Get<WriteGate>().EnterAsync())
        {
            work.TrySetResult();
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            Assert.False(batch.IsCompleted, "the batch job ended before its last execution was recorded");
        }

        await batch.WaitAsync(TimeSpan.FromSeconds(30));
        // Awaited by the job itself: no waiting for the state here.
        foreach (var id in new[] { first, last })
        {
            var done = await host.Queries.GetDetailAsync(id);
            Assert.Equal(Succeeded, done!.Execution.State);
            Assert.Single(done.Attempts);
        }
    }

    [Fact]
    public async Task ABatchsNextExecution_GetsTheWholeNode_AsSoonAsTheOneBeforeEndsItsWork_NotWhenItsEndIsWritten()
    {
        var whole = host.Get<CapacityGate>().Capacity.Cores;
        var first = await host.QueuedWithoutJobAsync("test.gate", cores: whole);
        var next = await host.QueuedWithoutJobAsync("test.gate", cores: whole);
        var firstWork = host.Gates.GetOrAdd(first, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        var nextWork = host.Gates.GetOrAdd(next, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        var dispatch = host.Get<IOptions<TaskdeckOptions>>().Value.Dispatch;
        var handBack = dispatch.HandBackMilliseconds;
        dispatch.HandBackMilliseconds = 600_000; // the first one is held on purpose: it must not hand the next one back
        Task batch;
        try
        {
            batch = Task.Run(() => host.Get<ExecutionBatchJob>().RunAsync(ExecutionDispatcher.Default, [first, next], CancellationToken.None));
            await host.WaitForStateAsync(first, Running, TimeSpan.FromSeconds(30));
        }
        finally
        {
            dispatch.HandBackMilliseconds = handBack;
        }

        using (await host.Get<WriteGate>().EnterAsync())
        {
            // The first one's end cannot be written; the next asks for the whole node meanwhile.
            firstWork.TrySetResult();
            await Task.Delay(TimeSpan.FromMilliseconds(300));
        }

        await host.WaitForStateAsync(next, Running, TimeSpan.FromSeconds(30));
        // Admitted within the batch: a refusal would have sent it back to wait in a Hangfire job of its own.
        Assert.DoesNotContain(host.Jobs, j => j.Ids.Contains(next));
        nextWork.TrySetResult();
        await batch.WaitAsync(TimeSpan.FromSeconds(30));
        foreach (var id in new[] { first, next })
            Assert.Single((await host.WaitForStateAsync(id, Succeeded, TimeSpan.FromSeconds(30))).Attempts);
        Assert.Equal(0, host.Get<CapacityGate>().InUse.Cores, 6);
    }

    // A chain pays Hangfire's job once: each task's end releases the next while its batch job waits for that end to
    // commit, and the worker that ran it takes the child on at once instead of the child waiting for a job of its own.
    [Fact]
    public async Task AChainOfDagTasks_RunsOnTheWorkerThatRanItsRoot_InItsJob_WithNoJobPerTask_EachOnce()
    {
        using var http = host.CreateClient();
        var submitted = await http.PostAsync("/v1/dagrun", new StringContent("""
            { "tag": "chain-on-one-worker", "tasks": {
                "first": { "job": { "task": "test.count" }, "children": ["second"] },
                "second": { "job": { "task": "test.count" }, "children": ["third"] },
                "third": { "job": { "task": "test.count" }, "children": ["fourth"] },
                "fourth": { "job": { "task": "test.count" } } } }
            """, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.OK, submitted.StatusCode);
        var runId = (await submitted.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("runID").GetInt64();
        var dags = host.Get<Taskdeck.Core.Dags.IDagStore>();

        var ids = new List<long>();
        foreach (var name in new[] { "first", "second", "third", "fourth" })
        {
            var task = (await dags.FindTaskAsync(runId, name))!;
            ids.Add(task.ExecutionId);
            var done = await host.WaitForStateAsync(task.ExecutionId, Succeeded, TimeSpan.FromSeconds(60));
            Assert.Single(done.Attempts);
            Assert.Equal(1, host.Runs.GetValueOrDefault(task.ExecutionId));
        }

        var rootJob = Assert.Single(host.Jobs, job => job.Ids.Contains(ids[0])).JobId;
        Assert.All(ids.Skip(1), child => Assert.DoesNotContain(host.Jobs, job => job.Ids.Contains(child)));
        // Each record names the job that ran it: its page links to the Hangfire job as any other's does.
        foreach (var id in ids) Assert.Equal(rootJob, (await host.Get<ExecutionStore>().FindAsync(id))!.HangfireJobId);
        // And the job names what it took on, in the parameters Hangfire's dashboard shows on the job's page (written as it ends).
        Assert.Equal($"\"{ids[1]}, {ids[2]}, {ids[3]}\"", await TookOnParameterAsync(rootJob));
    }

    // A chain's next link is released and claimed in one commit by the worker that ran its parent. Entering the release's
    // state (Queued: give it a job) means nothing when the claim moved the record on in the same commit, and is carried out
    // when the claim was refused: the record then waits for a worker as any released one does.
    [Fact]
    public async Task ReleasedAndClaimedTogether_GetsNoJob_WhileAReleaseWhoseClaimIsRefused_GetsOne()
    {
        var transitions = host.Get<ExecutionTransitions>();
        var node = host.Get<NodeIdentity>().Id;
        async Task<long> PendingAsync() => Assert.Single(await host.Get<ExecutionStore>().InsertAsync(
            [(new NewExecution { Kind = ExecutorKind.Handler, Name = "test.count", TaskId = Guid.NewGuid().ToString() }, Pending)], DateTimeOffset.UtcNow, node));
        var (claimedAtOnce, refused) = (await PendingAsync(), await PendingAsync());

        var (release, claim) = await transitions.ApplyTogetherAsync(new TransitionCommand(claimedAtOnce, Transition.Release),
            new TransitionCommand(claimedAtOnce, Transition.Claim) { NodeId = node, ExpectedAttempt = 0 });
        Assert.True(release.Applied && claim.Applied);
        Assert.DoesNotContain(host.Jobs, job => job.Ids.Contains(claimedAtOnce));
        Assert.True((await transitions.ApplyAsync(new TransitionCommand(claimedAtOnce, Transition.Succeed) { ExpectedAttempt = 1 })).Applied);

        (release, claim) = await transitions.ApplyTogetherAsync(new TransitionCommand(refused, Transition.Release),
            new TransitionCommand(refused, Transition.Claim) { NodeId = node, ExpectedAttempt = 7 });
        Assert.True(release.Applied);
        Assert.False(claim.Applied);
        Assert.Equal(Queued, claim.FoundState);
        Assert.Single(host.Jobs, job => job.Ids.Contains(refused));
        Assert.Single((await host.WaitForStateAsync(refused, Succeeded, TimeSpan.FromSeconds(30))).Attempts);
    }

    private async Task<string> TookOnParameterAsync(string jobId)
    {
        using var connection = host.Get<JobStorage>().GetConnection();
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var value = connection.GetJobParameter(jobId, CurrentJobFilter.TookOnParameter);
            if (value is not null) return value;
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), $"job {jobId} still has no {CurrentJobFilter.TookOnParameter} parameter after 30 s");
            await Task.Delay(20);
        }
    }

    [Theory]
    [InlineData(new long[] { 7 }, "7")]
    [InlineData(new long[] { 7, 8, 9 }, "7, 8, 9")]
    [InlineData(new long[] { 7, 8, 9, 10 }, "7, 8, 9, 10")]
    [InlineData(new long[] { 7, 8, 9, 10, 11, 12 }, "7, 8, 9 … 12 (6 in all)")]
    public void WhatAJobTookOn_IsDescribedByItsFirstFew_ItsLast_AndHowMany(long[] ids, string expected)
    {
        var tookOn = new ExecutionIdList();
        foreach (var id in ids) tookOn.Add(id);

        Assert.Equal(expected, tookOn.Describe());
    }

    [Fact]
    public void ABatchJob_IsNamedInTheDashboard_ByTheSameListOfIds()
    {
        Assert.Equal("Run executions 101, 102, 103 … 125 (25 in all)", ExecutionBatchJob.Describe([.. Enumerable.Range(101, 25).Select(i => (long)i)]));
        Assert.Equal("Run executions 7, 8", ExecutionBatchJob.Describe([7, 8]));
        Assert.Equal("Run executions", ExecutionBatchJob.Describe(null));
    }

    // The offer flows with the job's own async context: an execution its work makes ready on its queue while it is open is
    // handed over; the same made ready by anyone else, on another queue, or once it was taken (even if opened again) gets a job.
    [Fact]
    public async Task AWorkersOffer_TakesOneExecution_MadeReadyInItsOwnFlow_OnItsQueue_WhileOpen()
    {
        var dispatcher = host.Get<ExecutionDispatcher>();
        var (own, second, otherFlow, otherQueue, afterClose) = (await host.QueuedWithoutJobAsync("test.count"), await host.QueuedWithoutJobAsync("test.count"),
            await host.QueuedWithoutJobAsync("test.count"), await host.QueuedWithoutJobAsync("test.count"), await host.QueuedWithoutJobAsync("test.count"));

        async Task<long?> InAJobsFlowAsync()
        {
            var offer = ExecutionDispatcher.Continuation.Begin(ExecutionDispatcher.Default);
            await dispatcher.EnqueueAsync(own, priority: 0); // not yet open: the job's own executions still run
            offer.Open();
            Task elsewhere;
            using (ExecutionContext.SuppressFlow()) elsewhere = Task.Run(() => dispatcher.EnqueueAsync(otherFlow, priority: 0));
            await elsewhere;
            await dispatcher.EnqueueAsync(otherQueue, priority: 10);
            await dispatcher.EnqueueAsync(second, priority: 0);
            // A job opens its offer as its last execution's close is issued and again once it has run: opened again after a
            // take, it stays shut — reopened, the next would overwrite the one taken, which nobody would then run.
            offer.Open();
            await dispatcher.EnqueueAsync(afterClose, priority: 0); // one only: the offer was taken
            return offer.Close()?.ExecutionId;
        }

        var taken = await InAJobsFlowAsync();

        Assert.Equal(second, taken);
        foreach (var id in new[] { own, otherFlow, otherQueue, afterClose })
            Assert.Single(host.Jobs, job => job.Ids.Contains(id));
        Assert.DoesNotContain(host.Jobs, job => job.Ids.Contains(second));
        await dispatcher.HandBackAsync(ExecutionDispatcher.Default, [second]);
        foreach (var id in new[] { own, second, otherFlow, otherQueue, afterClose })
            Assert.Single((await host.WaitForStateAsync(id, Succeeded, TimeSpan.FromSeconds(30))).Attempts);
    }

    [Fact]
    public async Task Reconcile_IdsLeftInABatchOfADeadNode_AreDispatchedAgain_ButNotThoseOfALiveNode()
    {
        var node = await AnnouncedNodeAsync();

        var orphans = new[] { await host.QueuedWithoutJobAsync("test.count"), await host.QueuedWithoutJobAsync("test.count") };
        var kept = await host.QueuedWithoutJobAsync("test.count");
        var deadJob = ProcessingJob(orphans, $"node-that-died:4242:dead01:{Guid.NewGuid()}");
        var liveJob = ProcessingJob([kept], $"{node}:{Guid.NewGuid()}");
        var store = host.Get<ExecutionStore>();
        await store.SetHangfireJobsAsync([(orphans[0], deadJob), (orphans[1], deadJob), (kept, liveJob)]);

        await host.Get<Reconciler>().ReconcileAsync(atStart: true, CancellationToken.None);

        var untouched = (await host.Queries.GetDetailAsync(kept))!.Execution;
        Assert.Equal(Queued, untouched.State);
        Assert.Equal(liveJob, untouched.HangfireJobId);
        foreach (var id in orphans)
        {
            Assert.Single((await host.WaitForStateAsync(id, Succeeded, TimeSpan.FromSeconds(60))).Attempts);
            Assert.Equal(1, host.Runs.GetValueOrDefault(id));
        }
        await host.Executions.CancelAsync(kept, Actor.System, "test done");
    }

    // A big submission's jobs are made after the submit answers: under load its records waited there past the dispatch
    // grace, and every node's reconciler gave each a job of its own besides (BENCHMARKS.md, session 35).
    [Fact]
    public async Task Reconcile_ARecordWithoutAJob_IsLeftToTheNodeThatMadeIt_UntilThatNodesLeaseCouldHaveExpired()
    {
        var leases = host.Get<IOptions<TaskdeckOptions>>().Value.Leases;
        var expiry = leases.ExpirySeconds;
        leases.ExpirySeconds = 60;
        try
        {
            var inTheBacklog = await QueuedWithoutJobSinceAsync(TimeSpan.FromSeconds(30));
            var orphaned = await QueuedWithoutJobSinceAsync(TimeSpan.FromSeconds(90));

            await host.Get<Reconciler>().ReconcileAsync(atStart: false, CancellationToken.None);

            Assert.DoesNotContain(host.Jobs, job => job.Ids.Contains(inTheBacklog));
            Assert.Contains(host.Jobs, job => job.Ids.Contains(orphaned));
            Assert.Single((await host.WaitForStateAsync(orphaned, Succeeded, TimeSpan.FromSeconds(60))).Attempts);
            Assert.Equal(Queued, (await host.Queries.GetDetailAsync(inTheBacklog))!.Execution.State);
            await host.Executions.CancelAsync(inTheBacklog, Actor.System, "test done");
        }
        finally
        {
            leases.ExpirySeconds = expiry;
        }
    }

    private async Task<long> QueuedWithoutJobSinceAsync(TimeSpan age)
    {
        var spec = new NewExecution { Kind = ExecutorKind.Handler, Name = "test.count", TaskId = Guid.NewGuid().ToString() };
        return Assert.Single(await host.Get<ExecutionStore>().InsertAsync([(spec, Queued)], DateTimeOffset.UtcNow - age, host.Get<NodeIdentity>().Id));
    }

    [Fact]
    public async Task Reconcile_ReadsEachJobsStateOnce_HoweverManyOfItsRecordsWait()
    {
        var node = await AnnouncedNodeAsync();
        var waiting = new List<long>();
        for (var i = 0; i < 4; i++) waiting.Add(await host.QueuedWithoutJobAsync("test.count"));
        var liveJob = ProcessingJob([.. waiting.Take(3)], $"{node}:{Guid.NewGuid()}");
        var deadJob = ProcessingJob([waiting[3]], $"node-that-died:4242:dead01:{Guid.NewGuid()}");
        await host.Get<ExecutionStore>().SetHangfireJobsAsync([.. waiting.Take(3).Select(id => (id, liveJob)), (waiting[3], deadJob)]);

        await host.Get<Reconciler>().ReconcileAsync(atStart: true, CancellationToken.None);

        Assert.Equal(1, host.JobStateReads.GetValueOrDefault(liveJob));
        Assert.Equal(1, host.JobStateReads.GetValueOrDefault(deadJob));
        foreach (var id in waiting.Take(3))
            Assert.Equal(liveJob, (await host.Queries.GetDetailAsync(id))!.Execution.HangfireJobId);
        Assert.Single((await host.WaitForStateAsync(waiting[3], Succeeded, TimeSpan.FromSeconds(60))).Attempts);
        foreach (var id in waiting.Take(3)) await host.Executions.CancelAsync(id, Actor.System, "test done");
    }

    // A job that ran its records, or a record that got another job, between the reconciler's read of the page and its read
    // of the job's state (Reconciler.StillWaitingAsync says why this mattered).
    [Fact]
    public async Task Reconcile_ARecordRunOrGivenAnotherJobAfterThePageWasRead_IsNotDispatchedAgain()
    {
        var ranByItsJob = await host.QueuedWithoutJobAsync("test.count");
        var givenAnotherJob = await host.QueuedWithoutJobAsync("test.count");
        var leftByItsJob = await host.QueuedWithoutJobAsync("test.count");
        var clients = host.Get<IBackgroundJobClient>();
        var finished = clients.Create(HangfireTransport.JobFor(ExecutionDispatcher.Default, [ranByItsJob, givenAnotherJob, leftByItsJob]), new DeletedState());
        var store = host.Get<ExecutionStore>();
        await store.SetHangfireJobsAsync([(ranByItsJob, finished), (givenAnotherJob, finished), (leftByItsJob, finished)]);
        var another = clients.Create(HangfireTransport.JobFor(ExecutionDispatcher.Default, [givenAnotherJob]), new ScheduledState(TimeSpan.FromHours(1)));
        host.BeforeJobStateRead[finished] = () => Task.Run(async () =>
        {
            await host.Get<ExecutionRunner>().RunAsync(ranByItsJob, CancellationToken.None);
            await store.SetHangfireJobsAsync([(givenAnotherJob, another)]);
        }).GetAwaiter().GetResult();

        await host.Get<Reconciler>().ReconcileAsync(atStart: true, CancellationToken.None);

        Assert.DoesNotContain(host.Jobs, job => job.Ids.Contains(ranByItsJob) || job.Ids.Contains(givenAnotherJob));
        Assert.Contains(host.Jobs, job => job.Ids.Contains(leftByItsJob));
        Assert.Single((await host.WaitForStateAsync(leftByItsJob, Succeeded, TimeSpan.FromSeconds(60))).Attempts);
        Assert.Single((await host.Queries.GetDetailAsync(ranByItsJob))!.Attempts);
        Assert.Equal(1, host.Runs.GetValueOrDefault(ranByItsJob));
        await host.Executions.CancelAsync(givenAnotherJob, Actor.System, "test done");
    }

    // A node's death can leave thousands of records behind its jobs: they go out again together, not in a job each.
    [Fact]
    public async Task Reconcile_RecordsLeftByADeadNode_TravelInJobsOfSeveral()
    {
        var workers = host.Get<IExecutionTransport>().ClusterWorkers;
        var orphans = new List<long>();
        for (var i = 0; i < 2 * workers + 1; i++) orphans.Add(await host.QueuedWithoutJobAsync("test.count"));
        var deadJob = ProcessingJob([.. orphans], $"node-that-died:4242:dead01:{Guid.NewGuid()}");
        await host.Get<ExecutionStore>().SetHangfireJobsAsync([.. orphans.Select(id => (id, deadJob))]);

        await host.Get<Reconciler>().ReconcileAsync(atStart: true, CancellationToken.None);

        var jobs = host.Jobs.Where(job => job.Ids.Any(orphans.Contains)).ToList();
        Assert.Equal(orphans.Order(), jobs.SelectMany(job => job.Ids).Where(orphans.Contains).Order());
        Assert.True(jobs.Count <= workers, $"{jobs.Count} jobs for {orphans.Count} records: at most one per worker ({workers})");
        foreach (var id in orphans) Assert.Single((await host.WaitForStateAsync(id, Succeeded, TimeSpan.FromSeconds(60))).Attempts);
    }

    /// <summary>
    /// This node's id, once its Hangfire server has announced itself. What the reconciler's rule relies on: Hangfire names a
    /// server after its node (ServerName = node id). A host just started may not have announced its server yet (when the
    /// test runs first in the collection).
    /// </summary>
    private async Task<string> AnnouncedNodeAsync()
    {
        var node = host.Get<NodeIdentity>().Id;
        var announced = Stopwatch.StartNew();
        while (!host.Get<JobStorage>().GetMonitoringApi().Servers().Any(s => s.Name.StartsWith(node + ":", StringComparison.OrdinalIgnoreCase)))
        {
            Assert.True(announced.Elapsed < TimeSpan.FromSeconds(30), $"no Hangfire server of node {node} announced itself within 30 s");
            await Task.Delay(50);
        }
        return node;
    }

    private string ProcessingJob(long[] ids, string serverId)
    {
        var jobs = host.Get<IBackgroundJobClient>();
        var jobId = jobs.Create(HangfireTransport.JobFor(ExecutionDispatcher.Default, ids), new ScheduledState(TimeSpan.FromHours(1)));
        // What a worker of that server writes when it fetches the job (the constructor is Hangfire's own, internal).
        var processing = (ProcessingState)Activator.CreateInstance(typeof(ProcessingState),
            System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic, null, [serverId, "worker-1"], null)!;
        Assert.True(jobs.ChangeState(jobId, processing, ScheduledState.StateName));
        return jobId;
    }

    private static NewExecution Count() => new() { Kind = ExecutorKind.Handler, Name = "test.count" };
}
