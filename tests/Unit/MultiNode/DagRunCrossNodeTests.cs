using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Taskdeck.Core;
using Taskdeck.Core.Bulk;
using Taskdeck.Core.Dags;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Executions;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.MultiNode;

/// <summary>
/// A DAG run's state on one node after another node killed and restarted it, on a real PostgreSQL: node A's scheduler
/// and change follower in this process, node B's acts written to the same database as B writes them (its node id on
/// each change). The clock never moves, so A's "known RUNNING" never ages out: only the news of B's changes can correct it.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DagRunCrossNodeTests(PostgresServer postgres)
{
    private const string NodeB = "node-b";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ARunRestartedOnAnotherNode_ReadsRunning_OnceThisNodeRunsItsTask(bool claimedBeforeTheNewsArrives)
    {
        await using var storage = await StorageHost.StartAsync(await postgres.StorageSettingsAsync());
        var store = storage.Get<ExecutionStore>();
        var dags = storage.Get<IDagStore>();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var nodeA = new NodeIdentity(Options.Create(new TaskdeckOptions()));
        var scheduler = new DagScheduler(dags, store, storage.Get<IBulkActionStore>(), new ServiceCollection().BuildServiceProvider(), time,
            NullLogger<DagScheduler>.Instance);
        var events = new ExecutionEvents();
        var republished = new List<StateChanged>();
        using var _ = events.Subscribe(e => { if (e is StateChanged s) lock (republished) republished.Add(s); });
        var follower = new ChangeFollower(store, events, [scheduler], nodeA, new PollingChangeSignal(time), Options.Create(new TaskdeckOptions()), time, NullLogger<ChangeFollower>.Instance);

        var at = time.GetUtcNow();
        var runId = await dags.CreateRunAsync("cross-node", "{}", "{}", false, at);
        var ids = await store.InsertAsync([(TaskOf(runId, "on-a"), ExecutionState.Queued), (TaskOf(runId, "on-b"), ExecutionState.Queued)], at, NodeB);
        var (onA, onB) = (ids[0], ids[1]);

        // A runs one task (its claim marks the run RUNNING, and A remembers so); B runs the other.
        await OnA(new TransitionCommand(onA, Transition.Claim));
        Assert.Equal(DagRunState.Running, await StateAsync());
        await OnB(new TransitionCommand(onB, Transition.Claim));
        var cursor = await store.LatestChangeIdAsync();

        // B kills the run: A's worker stops its task (B's is still stopping, so A's recompute waits), then B's stops.
        Assert.True(await dags.SetStateAsync(runId, [DagRunState.Running], DagRunState.Killed, at));
        await OnB(new TransitionCommand(onA, Transition.RequestCancel));
        await OnB(new TransitionCommand(onB, Transition.RequestCancel));
        await OnA(new TransitionCommand(onA, Transition.ConfirmCancel) { ExpectedAttempt = 1 });
        await OnB(new TransitionCommand(onB, Transition.ConfirmCancel) { ExpectedAttempt = 1 });
        // B restarts it: QUEUED, both tasks back in the queue.
        Assert.True(await dags.SetStateAsync(runId, [DagRunState.Killed], DagRunState.Queued, at));
        await OnB(new TransitionCommand(onA, Transition.Retry));
        await OnB(new TransitionCommand(onB, Transition.Retry));

        // A claims a task of the restarted run before or after its follower read B's changes.
        if (claimedBeforeTheNewsArrives) await OnA(new TransitionCommand(onA, Transition.Claim));
        cursor = await follower.FollowAsync(cursor, CancellationToken.None);
        if (!claimedBeforeTheNewsArrives) await OnA(new TransitionCommand(onA, Transition.Claim));

        Assert.Equal(DagRunState.Running, await StateAsync());
        // B's changes reached A's event stream with the run they belong to (DAG pages and live models filter on it).
        lock (republished)
        {
            Assert.NotEmpty(republished);
            Assert.All(republished, s => Assert.Equal((runId, NodeB), (s.DagRunId!.Value, s.NodeId!)));
        }

        async Task OnA(TransitionCommand command)
        {
            var result = await store.ApplyAsync(command with { NodeId = nodeA.Id }, at);
            Assert.True(result.Applied, $"{command.Transition} on A");
            await scheduler.OnTransitionedAsync(result, CancellationToken.None);
        }

        async Task OnB(TransitionCommand command) =>
            Assert.True((await store.ApplyAsync(command with { NodeId = NodeB }, at)).Applied, $"{command.Transition} on B");

        async Task<DagRunState> StateAsync() => (await dags.FindRunAsync(runId))!.State;
    }

    private static NewExecution TaskOf(long runId, string name) => new()
    {
        Kind = ExecutorKind.Handler, Name = "demo.noop", DagRunId = runId, DagTaskName = name,
    };
}
