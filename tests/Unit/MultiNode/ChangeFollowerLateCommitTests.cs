using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Taskdeck.Core;
using Taskdeck.Core.Events;
using Taskdeck.Core.Executions;
using Taskdeck.Core.Workers;
using Taskdeck.Data.Executions;
using Taskdeck.Data.Storage;
using Taskdeck.Unit.Infrastructure;

namespace Taskdeck.Unit.MultiNode;

/// <summary>
/// On PostgreSQL a state change's id is taken at insert and becomes visible at commit: another node's follower must see
/// a change that commits after a higher id was already read (it used to skip it for good).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ChangeFollowerLateCommitTests(PostgresServer postgres)
{
    [Fact]
    public async Task TwoTransactionsCommittingOutOfIdOrder_AreBothSeenByAnotherNodesFollower()
    {
        await using var storage = await StorageHost.StartAsync(new Dictionary<string, string?>
        {
            ["Taskdeck:Storage:Provider"] = "PostgreSql",
            ["ConnectionStrings:Taskdeck"] = await postgres.CreateDatabaseAsync(),
        });
        var store = storage.Get<ExecutionStore>();
        var contexts = storage.Get<IDbContextFactory<TaskdeckDbContext>>();
        var ids = await store.InsertAsync([(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" }, ExecutionState.Queued)],
            DateTimeOffset.UtcNow, "late-commit-test");

        var events = new ExecutionEvents();
        var seen = new List<StateChanged>();
        using var _ = events.Subscribe(e => { if (e is StateChanged s) lock (seen) seen.Add(s); });
        var observer = new NodeIdentity(Options.Create(new TaskdeckOptions()));
        var follower = new ChangeFollower(store, events, [], observer, new PollingChangeSignal(TimeProvider.System), Options.Create(new TaskdeckOptions()), TimeProvider.System, NullLogger<ChangeFollower>.Instance);
        var cursor = await store.LatestChangeIdAsync();

        // The early transaction takes its id first and stays open; the late one takes a higher id and commits first.
        await using var early = await contexts.CreateDbContextAsync();
        await using var earlyTransaction = await early.Database.BeginTransactionAsync();
        early.StateChanges.Add(Change(ids[0], ExecutionState.Queued, ExecutionState.Running, "node-b"));
        await early.SaveChangesAsync();
        await using (var late = await contexts.CreateDbContextAsync())
        {
            late.StateChanges.Add(Change(ids[0], ExecutionState.Running, ExecutionState.Cancelling, "node-c"));
            await late.SaveChangesAsync();
        }

        cursor = await follower.FollowAsync(cursor, CancellationToken.None);
        Assert.Equal([ExecutionState.Cancelling], Seen());
        Assert.Equal(1, follower.GapCount);

        await earlyTransaction.CommitAsync();
        cursor = await follower.FollowAsync(cursor, CancellationToken.None);
        Assert.Equal([ExecutionState.Cancelling, ExecutionState.Running], Seen());
        Assert.Equal(0, follower.GapCount);

        // Seen once: later passes neither repeat it nor lose the cursor.
        await follower.FollowAsync(cursor, CancellationToken.None);
        Assert.Equal(2, Seen().Count);

        List<ExecutionState> Seen() { lock (seen) return seen.Select(s => s.To).ToList(); }
    }

    [Fact]
    public async Task ThisNodesOwnChanges_AreReadBare_NotPublished_AndLeaveNoGap()
    {
        await using var storage = await StorageHost.StartAsync(new Dictionary<string, string?>
        {
            ["Taskdeck:Storage:Provider"] = "PostgreSql",
            ["ConnectionStrings:Taskdeck"] = await postgres.CreateDatabaseAsync(),
        });
        var store = storage.Get<ExecutionStore>();
        var contexts = storage.Get<IDbContextFactory<TaskdeckDbContext>>();
        var ids = await store.InsertAsync([(new NewExecution { Kind = ExecutorKind.Handler, Name = "demo.noop" }, ExecutionState.Queued)],
            DateTimeOffset.UtcNow, "own-changes-test");
        var events = new ExecutionEvents();
        var seen = new List<StateChanged>();
        using var _ = events.Subscribe(e => { if (e is StateChanged s) lock (seen) seen.Add(s); });
        var me = new NodeIdentity(Options.Create(new TaskdeckOptions()));
        var follower = new ChangeFollower(store, events, [], me, new PollingChangeSignal(TimeProvider.System), Options.Create(new TaskdeckOptions()), TimeProvider.System, NullLogger<ChangeFollower>.Instance);
        var start = await store.LatestChangeIdAsync();

        // Committed one by one, in id order: mine, mine, another node's, mine.
        foreach (var (from, to, node) in new[]
                 {
                     (ExecutionState.Queued, ExecutionState.Running, me.Id), (ExecutionState.Running, ExecutionState.Succeeded, me.Id),
                     (ExecutionState.Succeeded, ExecutionState.Queued, "node-b"), (ExecutionState.Queued, ExecutionState.Running, me.Id),
                 })
        {
            await using var db = await contexts.CreateDbContextAsync();
            db.StateChanges.Add(Change(ids[0], from, to, node));
            await db.SaveChangesAsync();
        }

        var cursor = await follower.FollowAsync(start, CancellationToken.None);
        lock (seen) Assert.Equal([(ExecutionState.Queued, "node-b")], seen.Select(s => (s.To, s.NodeId)).ToList());
        Assert.Equal(0, follower.GapCount);
        Assert.Equal(await store.LatestChangeIdAsync(), cursor);

        var read = await store.ChangesAfterAsync(start, 100, exceptNode: me.Id);
        Assert.Equal([true, true, false, true], read.Select(f => f.IsBare).ToList());
        Assert.All(read.Where(f => f.IsBare), f => Assert.Equal(("", me.Id), (f.Change.Transition, f.Change.NodeId)));
        var other = Assert.Single(read, f => !f.IsBare).Change;
        Assert.Equal(("Test", "node-b", ids[0], ExecutionState.Succeeded), (other.Transition, other.NodeId, other.ExecutionId, other.From));
        // Without a node to leave out, every change is read whole.
        Assert.All(await store.ChangesAfterAsync(start, 100), f => Assert.Equal((false, "Test"), (f.IsBare, f.Change.Transition)));
        Assert.Equal(read.Select(f => f.Change.Id), (await store.ChangesWithIdsAsync(read.Select(f => f.Change.Id).ToList(), exceptNode: me.Id)).Select(f => f.Change.Id));
    }

    private static StateChange Change(long executionId, ExecutionState from, ExecutionState to, string node) => new()
    {
        ExecutionId = executionId, At = DateTimeOffset.UtcNow, From = from, To = to, Transition = "Test", NodeId = node,
    };
}
