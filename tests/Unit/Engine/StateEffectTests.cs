using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
using Taskdeck.Data.Executions;
using static Taskdeck.Core.Executions.ExecutionState;

namespace Taskdeck.Unit.Engine;

/// <summary>
/// What entering a state means is carried out by <see cref="ExecutionTransitions"/>, whoever applied the transition: the
/// tests apply bare transitions, not the services that used to do the effect by hand after them.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class StateEffectTests(EngineHost host)
{
    private ExecutionTransitions Transitions => host.Get<ExecutionTransitions>();
    private ExecutionStore Store => host.Get<ExecutionStore>();

    private static NewExecution Count() => new() { Kind = ExecutorKind.Handler, Name = "test.count" };

    private static NewExecution External() => new() { Kind = ExecutorKind.External, Name = "external.worker" };

    private (JobWhereabouts, string?) Whereabouts(string jobId)
    {
        using var states = host.Get<IExecutionTransport>().ReadJobStates();
        return states.Find(jobId);
    }

    private async Task<string> JobOfAsync(long id) =>
        (await Store.FindAsync(id))!.HangfireJobId ?? throw new Xunit.Sdk.XunitException($"Execution {id} has no job.");

    /// <summary>
    /// Work of <paramref name="handler"/> (test.gate heeds a cancel, test.hold does not) whose attempt runs here, with its
    /// gate. Hidden from the lease keeper's cancel watch (every 250 ms, it also signals a Cancelling record running here),
    /// only a transition's own signal can reach it.
    /// </summary>
    private async Task<(long Id, TaskCompletionSource Gate)> RunningHereAsync(string handler, bool hiddenFromCancelWatch)
    {
        var id = (await host.Executions.SubmitAsync(new NewExecution { Kind = ExecutorKind.Handler, Name = handler })).Id;
        // The handler may not have made its gate yet when the attempt is registered: whoever comes first makes it.
        var gate = host.Gates.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (hiddenFromCancelWatch) host.HiddenFromCancelWatch[id] = 0;
        try
        {
            await host.WaitForAsync(id, d => d.Execution.State == Running && host.Get<RunningWork>().IsRunningHere(id), what: "running here");
        }
        catch
        {
            Release(id, gate);
            throw;
        }
        return (id, gate);
    }

    /// <summary>Left shut, test.hold's gate would hold its worker for every later test in the shared host.</summary>
    private void Release(long id, TaskCompletionSource gate)
    {
        gate.TrySetResult();
        host.HiddenFromCancelWatch.TryRemove(id, out _);
    }

    [Fact]
    public async Task EnteringCancelling_SignalsTheAttemptRunningHere()
    {
        // Deaf to the cancel, so its attempt stays registered here to be looked at (a cancellable one may be gone already).
        var (id, gate) = await RunningHereAsync("test.hold", hiddenFromCancelWatch: true);
        try
        {
            var requested = await Transitions.ApplyAsync(new TransitionCommand(id, Transition.RequestCancel) { Reason = "test" });

            Assert.True(requested.Applied, requested.Describe());
            Assert.Equal(Cancelling, (await Store.FindAsync(id))!.State);
            Assert.True(host.Get<RunningWork>().IsCancelRequested(id));
        }
        finally
        {
            Release(id, gate);
        }
        await host.WaitForAsync(id, d => d.Execution.State.IsTerminal(), what: "ended");
    }

    [Fact]
    public async Task ABulkCancel_OfWorkRunningHere_SignalsIt_AndItsWorkStops_AsASingleCancelDoes()
    {
        var (id, gate) = await RunningHereAsync("test.gate", hiddenFromCancelWatch: true);
        try
        {
            var draft = new Taskdeck.Core.Bulk.BulkAction { Kind = Taskdeck.Core.Bulk.BulkActionKind.Cancel, Reason = "bulk cancel of running work" };
            draft.SetIds([id]);

            var (act, finished) = await host.Get<Taskdeck.Core.Bulk.BulkActions>().StartAsync(draft,
                new Taskdeck.Core.Audit.Actor("bulk-tester", Taskdeck.Core.Audit.ActorKind.User, null), waitIfAtMost: 10);

            Assert.True(finished);
            Assert.Equal((1, 0), (act.Applied, act.Skipped));
            // The gate heeds the attempt's token: the work stops, and the attempt ends Cancelled.
            var done = await host.WaitForStateAsync(id, Cancelled, TimeSpan.FromSeconds(30));
            Assert.Contains(done.History, h => h.To == Cancelling && h.ActorName == "bulk-tester");
            Assert.False(gate.Task.IsCompleted);
        }
        finally
        {
            Release(id, gate);
        }
    }

    [Fact]
    public async Task EnteringCancelled_DropsTheJobOnlyOfARecordThatWasWaiting_InOneBatch()
    {
        var waiting = (await host.Executions.SubmitAsync(Count() with { RunAt = DateTimeOffset.UtcNow.AddHours(1) })).Id;
        var (held, gate) = await RunningHereAsync("test.hold", hiddenFromCancelWatch: false);
        try
        {
            var (waitingJob, heldJob) = (await JobOfAsync(waiting), await JobOfAsync(held));
            Assert.Equal(JobWhereabouts.Running, Whereabouts(heldJob).Item1);

            // One batch of what entering Cancelled means: a record cancelled while it waited, and one whose stopped
            // attempt is confirmed (the job that ran that attempt is its history on the dashboard, not work to drop).
            await Transitions.EnteredAsync([
                new EnteredState(waiting, Scheduled, Cancelled, ExecutorKind.Handler, 0, waitingJob),
                new EnteredState(held, Cancelling, Cancelled, ExecutorKind.Handler, 0, heldJob),
            ], null, default);

            Assert.Equal(JobWhereabouts.Gone, Whereabouts(waitingJob).Item1);
            Assert.Equal(JobWhereabouts.Running, Whereabouts(heldJob).Item1);
        }
        finally
        {
            Release(held, gate);
            await Transitions.ApplyAsync(new TransitionCommand(waiting, Transition.CancelWaiting) { Reason = "test done" });
        }
        await host.WaitForStateAsync(held, Succeeded);
    }

    [Fact]
    public async Task AWaitingRecordEndingCancelled_HasItsJobDropped_OneByOne_AndSetBased()
    {
        var later = DateTimeOffset.UtcNow.AddHours(1);
        var ids = (await host.Executions.SubmitManyAsync(Enumerable.Repeat(Count() with { RunAt = later }, 3).ToList())).Select(e => e.Id).ToList();
        var jobs = new List<string>();
        foreach (var id in ids) jobs.Add(await JobOfAsync(id));
        Assert.All(jobs, job => Assert.Equal(JobWhereabouts.Waiting, Whereabouts(job).Item1));

        var one = await Transitions.ApplyAsync(new TransitionCommand(ids[0], Transition.CancelWaiting) { Reason = "test" });
        var many = await Transitions.ApplyManyAsync(new TransitionCommand(0, Transition.CancelWaiting) { Reason = "test" }, ids[1..]);

        Assert.True(one.Applied, one.Describe());
        Assert.Equal(ids[1..], many.Select(r => r.Id).Order());
        Assert.All(jobs, job => Assert.Equal(JobWhereabouts.Gone, Whereabouts(job).Item1));
        Assert.All(ids, id => Assert.False(host.Runs.ContainsKey(id)));
    }

    [Fact]
    public async Task AnExternalWorkersRecord_EnteringTheQueue_GetsNoJob_WhileAHandlersRecordDoes()
    {
        var ids = (await Store.InsertAsync([(External(), Pending), (External(), Pending), (External(), Pending), (Count(), Pending)], DateTimeOffset.UtcNow, "test")).ToArray();
        var (single, external, handler) = (ids[0], ids[1..3], ids[3]);

        var released = await Transitions.ApplyAsync(new TransitionCommand(single, Transition.Release) { Reason = "test" });
        var releasedTogether = await Transitions.ApplyManyAsync(new TransitionCommand(0, Transition.Release) { Reason = "test" }, [.. external, handler]);

        Assert.Equal((true, (ExecutionState?)Queued, ExecutorKind.External), (released.Applied, released.NewState, released.Kind));
        Assert.Equal([(external[0], ExecutorKind.External), (external[1], ExecutorKind.External), (handler, ExecutorKind.Handler)],
            releasedTogether.OrderBy(r => r.Id).Select(r => (r.Id, r.Kind)));
        foreach (var id in ids[..3])
        {
            var record = (await Store.FindAsync(id))!;
            Assert.Equal((Queued, (string?)null), (record.State, record.HangfireJobId));
            Assert.DoesNotContain(host.Jobs, job => job.Ids.Contains(id));
        }
        // The contrast: released in the same set, the handler's record got its job and ran.
        await host.WaitForStateAsync(handler, Succeeded);
        Assert.Contains(host.Jobs, job => job.Ids.Contains(handler));
        Assert.Equal(3, (await Transitions.ApplyManyAsync(new TransitionCommand(0, Transition.CancelWaiting) { Reason = "test done" }, ids[..3])).Count);
    }

    [Fact]
    public async Task ASubmissionWhoseTransportFailsPartWay_RedispatchesOnlyTheRecordsLeftWithoutAJob()
    {
        // Two queues, so two jobs: the critical one is made first, then the default one's enqueue fails.
        var tag = "transport-partial-" + Guid.NewGuid().ToString("N")[..8];
        host.Faults.FailFirstEnqueueTagged(tag, new TimeoutException("the job store did not answer"));
        try
        {
            var stored = await host.Executions.SubmitManyAsync([Count() with { Priority = 10 }, Count() with { Tags = [tag] }]);
            var (made, refused) = (stored[0].Id, stored[1].Id);

            Assert.Contains(host.Faults.Refused, ids => ids.Contains(refused));
            await host.WaitForStateAsync(made, Succeeded);
            await host.WaitForStateAsync(refused, Succeeded, TimeSpan.FromSeconds(60));
            var backlog = host.Get<DispatchBacklog>();
            for (var until = DateTime.UtcNow.AddSeconds(20); backlog.Pending > 0 && DateTime.UtcNow < until;) await Task.Delay(25);
            Assert.Equal(0, backlog.Pending);

            // The record whose job was made before the failure keeps that one job (and its id); only the other went to the backlog.
            var job = Assert.Single(host.Jobs, j => j.Ids.Contains(made));
            Assert.Equal(job.JobId, await JobOfAsync(made));
            Assert.Single(host.Jobs, j => j.Ids.Contains(refused));
            Assert.Equal((1, 1), (host.Runs[made], host.Runs[refused]));
        }
        finally
        {
            host.Faults.Disarm();
        }
    }

    [Fact]
    public async Task ASubmissionWhoseTransportFailsUnexpectedly_IsAccepted_AndRunsOnce()
    {
        using var client = host.CreateClient();
        // Armed for this submission's own record (by its tag): no other enqueue in the shared host can take the fault.
        var tag = "transport-defect-" + Guid.NewGuid().ToString("N")[..8];
        host.Faults.FailFirstEnqueueTagged(tag, new InvalidOperationException("a transport defect"));
        try
        {
            using var response = await client.PostAsJsonAsync("/api/tasks", new { task = "test.count", tags = new[] { tag } });

            // Stored is durable and will run: a 500 here would have the client send it again and run it twice.
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var id = (long)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!;
            Assert.Contains(host.Faults.Refused, refused => refused.Contains(id));
            var done = await host.WaitForStateAsync(id, Succeeded, TimeSpan.FromSeconds(60));
            Assert.Single(done.Attempts);
            Assert.Equal(1, host.Runs[id]);
            Assert.Contains(host.ServerLogs.Lines, line => line.StartsWith("Error ", StringComparison.Ordinal) && line.Contains("a transport defect"));
        }
        finally
        {
            host.Faults.Disarm();
        }
    }
}
