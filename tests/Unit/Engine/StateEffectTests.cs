using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Taskdeck.Core.Dispatch;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Executors;
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
    private IExecutionStore Store => host.Get<IExecutionStore>();

    private static NewExecution Count() => new() { Kind = ExecutorKind.Handler, Name = "test.count" };

    private static NewExecution External() => new() { Kind = ExecutorKind.External, Name = "external.worker" };

    private (JobWhereabouts, string?) Whereabouts(string jobId)
    {
        using var states = host.Get<IExecutionTransport>().ReadJobStates();
        return states.Find(jobId);
    }

    private async Task<string> JobOfAsync(long id) =>
        (await Store.FindAsync(id))!.HangfireJobId ?? throw new Xunit.Sdk.XunitException($"Execution {id} has no job.");

    [Fact]
    public async Task EnteringCancelling_SignalsTheAttemptRunningHere()
    {
        var running = host.Get<RunningWork>();
        // Deaf to the cancel, so its attempt stays registered here to be looked at (a cancellable one may be gone already).
        var e = await host.Executions.SubmitAsync(new NewExecution { Kind = ExecutorKind.Handler, Name = "test.hold" });
        // The handler may not have made its gate yet when the attempt is registered: whoever comes first makes it.
        var gate = host.Gates.GetOrAdd(e.Id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        // The lease keeper's watch (every 250 ms) also signals a Cancelling record running here: hidden from it, only the
        // transition's own signal can be seen.
        host.HiddenFromCancelWatch[e.Id] = 0;
        try
        {
            await host.WaitForAsync(e.Id, d => d.Execution.State == Running && running.IsRunningHere(e.Id), what: "running here");

            var requested = await Transitions.ApplyAsync(new TransitionCommand(e.Id, Transition.RequestCancel) { Reason = "test" });

            Assert.True(requested.Applied, requested.Describe());
            Assert.Equal(Cancelling, (await Store.FindAsync(e.Id))!.State);
            Assert.True(running.IsCancelRequested(e.Id));
        }
        finally
        {
            // test.hold heeds no token: left shut, its worker would be held for every later test in the shared host.
            gate.TrySetResult();
            host.HiddenFromCancelWatch.TryRemove(e.Id, out _);
        }
        await host.WaitForAsync(e.Id, d => d.Execution.State.IsTerminal(), what: "ended");
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
